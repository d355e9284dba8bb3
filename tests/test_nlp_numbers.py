"""Number parsing and quantity finding (pipeline.nlp.numbers): no model needed."""

from __future__ import annotations

import math
import random
import re

import pytest

from pipeline.nlp import numbers
from pipeline.nlp.hedges import _HEDGE
from pipeline.nlp.hedges import _TERMS as _HEDGE_TERMS
from pipeline.nlp.numbers import find_quantities, number_style, parse_number
from pipeline.nlp.periods import _PATTERNS as _PERIODS
from pipeline.nlp.periods import _PERIOD


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("21,600", 21600),
        ("1.5 million", 1_500_000),
        ("two thousand", 2000),
        ("500k", 500_000),
        ("a quarter", 0.25),
        ("two-thirds", 2 / 3),
        ("twenty-five", 25),
        ("4.2 billion", 4.2e9),
        ("$3bn", 3e9),
        ("40%", 40),
        ("62 per cent", 62),
        ("2.5 percentage points", 2.5),
        ("a dozen", 12),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    parsed = parse_number(text)
    assert parsed is not None and math.isclose(parsed, value)


@pytest.mark.parametrize("text", ["one", "several", "dozens", "the"])
def test_vague_or_non_numbers_do_not_parse(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "low", "high", "percent"),
    [
        ("between 300,000 and 500,000 soldiers", 300_000, 500_000, False),
        ("between 1.2 and 1.5 million people", 1_200_000, 1_500_000, False),
        ("damaged 15–20 homes", 15, 20, False),
        ("growth of 2 to 3% next year", 2, 3, True),
        ("each ward holds from 20 to 30 beds", 20, 30, False),
        ("a rise of 20-25% in prices", 20, 25, True),
    ],
)
def test_ranges(text: str, low: float, high: float, percent: bool) -> None:
    (q,) = find_quantities(text)
    assert (q.low, q.high, q.qualifier, q.percent) == (low, high, "range", percent)
    assert text[q.start : q.end] == q.text


@pytest.mark.parametrize(
    ("text", "qualifier"),
    [
        ("about 40 people", "approximately"),
        ("an estimated two thousand men", "approximately"),
        ("nearly 2,000 soldiers", "approximately"),
        ("more than 90 cases", "more_than"),
        ("in excess of 3,000 patients", "more_than"),
        ("at least 25 detainees", "at_least"),
        ("fewer than 40% of residents", "less_than"),
        ("under 10% of the aid", "less_than"),
        ("up to 1,100 soldiers", "up_to"),
        ("312 names", "exact"),
    ],
)
def test_qualifiers(text: str, qualifier: str) -> None:
    (q,) = find_quantities(text)
    assert q.qualifier == qualifier


def test_a_change_from_one_figure_to_another_is_two_figures_not_a_range() -> None:
    found = find_quantities("rose from 3.1 million tonnes in September to 3.6 million tonnes")
    assert [(q.low, q.is_range) for q in found] == [(3.1e6, False), (3.6e6, False)]


def test_offsets_point_at_the_words() -> None:
    text = "Officials said some 4,000 workers and two-thirds of respondents agreed."
    for q in find_quantities(text):
        assert text[q.start : q.end] == q.text
    assert [q.text for q in find_quantities(text)] == ["4,000", "two-thirds"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("half a million", 500_000),
        ("a quarter of a million", 250_000),
        ("one and a half million", 1_500_000),
        ("two hundred and fifty", 250),
        ("one million", 1_000_000),
        ("three hundred thousand", 300_000),
        ("one in five", 0.2),
        ("nine out of ten", 0.9),
        ("1 in 4", 0.25),
        ("a tenth", 0.1),
        ("€12m", 12_000_000),
        ("7 pct", 7),
    ],
)
def test_parse_number_words_shares_and_scales(text: str, value: float) -> None:
    parsed = parse_number(text)
    assert parsed is not None and math.isclose(parsed, value)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Half a million people fled", ["Half a million"]),
        ("roughly one in three voters", ["one in three"]),
        ("some two hundred and fifty nurses and two doctors", ["two hundred and fifty", "two"]),
        ("one million doses and one of the biggest depots", ["one million"]),
        # a number followed by "in" and a year, or by a length of time, is not a share
        ("the tally rose by 3 in 2024", ["3", "2024"]),
        ("prices doubled 2 in 10 years", ["2", "10"]),
    ],
)
def test_find_quantities_words_and_shares(text: str, found: list[str]) -> None:
    assert [q.text for q in find_quantities(text)] == found


@pytest.mark.parametrize(
    ("text", "qualifier"),
    [
        ('holds "no more than 3,500" prisoners', "up_to"),
        ("can cover at most 1.7 gigawatts", "up_to"),
        ("not less than 40 buses", "at_least"),
        ("no fewer than 12 ships", "at_least"),
        ("more than 600 beds", "more_than"),
    ],
)
def test_longer_qualifiers_win(text: str, qualifier: str) -> None:
    (q,) = find_quantities(text)
    assert q.qualifier == qualifier


def _why(text: str, figure: str) -> str | None:
    """not_a_figure's verdict on the first quantity written as ``figure`` in ``text``."""
    from pipeline.nlp.figures import not_a_figure

    (q,) = [q for q in find_quantities(text) if q.text == figure]
    return not_a_figure(text, q, [])


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("Two days of talks ended without a deal.", "Two"),
        ("She spoke for the first time in two weeks.", "two"),
        ("Three weeks later the convoy returned.", "Three"),
        ("Results are expected within 48 hours.", "48"),
        ("He said a third round of talks was possible.", "a third"),
        ("The economy grew fast in the first half of the year.", "half"),
        ("The file went back as case no. 412 on appeal.", "412"),
        ("Page 3 of 12", "12"),
        ("The vote was moved to 12.03.2026 by the council.", "12.03"),
        ("Proceedings opened under file CCJ-2025/0931 last week.", "0931"),
        ("A woman in her 40s waited outside.", "40"),
        ("Posted by the desk 1,234 views", "1,234"),
        ("The convoy left at 0600 local time.", "0600"),
    ],
)
def test_not_figures(text: str, figure: str) -> None:
    assert _why(text, figure) is not None


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("Output will be cut by a third, the minister said.", "a third"),
        ("Spending will be cut by a third next year.", "a third"),
        ("A fifth of the wells have run dry.", "A fifth"),
        ("Power cuts of up to 16 hours a day hit the city.", "16"),
        ("The siege has lasted more than 200 days.", "200"),
        ("At least 17 people were killed.", "17"),
        ("Exports fell by half in a month.", "half"),
    ],
)
def test_figures_that_look_like_non_figures(text: str, figure: str) -> None:
    assert _why(text, figure) is None


# --- number conventions (issue 16: European and Indian formats) --------------------------------


@pytest.mark.parametrize(
    ("text", "style", "values"),
    [
        # decimal comma, dot or space groups
        ("The deficit reached €2.187,4 million, or 3,8 % of output.", "eu", [2187.4e6, 3.8]),
        ("Traffic rose 7,2%: 1.412 ships and 1 283 400 containers.", "eu", [7.2, 1412, 1283400]),
        ("Fares rise to €14,20 an hour from €12,75.", "eu", [14.2, 12.75]),
        # English decimals with space groups
        ("Breakdowns took 17 400 MW offline; repairs cost R1.2 billion.", "en", [17400, 1.2e9]),
        # Indian grouping
        ("Complexes pay as much as ₹1,20,000 a week.", "en", [120000]),
        ("Canada will pay C$250 million.", "en", [250e6]),
    ],
)
def test_number_conventions(text: str, style: str, values: list[float]) -> None:
    assert number_style(text) == style
    found = [q.low for q in find_quantities(text, style)]
    assert len(found) == len(values)
    assert all(math.isclose(a, b) for a, b in zip(found, values, strict=True))


@pytest.mark.parametrize(
    "text",
    [
        "Inflation was 1.23 percent, and 1,450 people left.",  # English decimals and groups
        "Version 2.0 of the plan covers 3,400 homes.",
        "No number here at all.",
    ],
)
def test_english_articles_keep_english_notation(text: str) -> None:
    assert number_style(text) == "en"


def test_a_day_of_a_date_is_not_grouped_with_the_figure_after_it() -> None:
    """ "on May 14 200 people": a day and a count, not 14,200."""
    found = [q.low for q in find_quantities("On May 14 200 people marched.")]
    assert 14200 not in found and 200 in found


def test_eu_parse_number() -> None:
    assert parse_number("61,8 million", "eu") == pytest.approx(61.8e6)
    assert parse_number("1.480", "eu") == 1480
    assert parse_number("1.480") == pytest.approx(1.48)


def test_a_change_in_percent_then_a_price_is_not_a_range() -> None:
    """ "jumped 3.1% to $11.42": the change and the level reached, two figures."""
    found = find_quantities("Futures jumped 3.1% to $11.42 a bushel; prices rose 20-25%.")
    assert [(q.low, q.high) for q in found] == [(3.1, 3.1), (11.42, 11.42), (20, 25)]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("It borrowed EUR 2.1 billion and INR 500 crore.", [2.1e9, 5e9]),
        ("He owes one lakh; the waiver covers only two lakh.", [1e5, 2e5]),
    ],
)
def test_iso_currency_codes_and_lakh_words(text: str, values: list[float]) -> None:
    found = [q.low for q in find_quantities(text)]
    assert all(math.isclose(a, b) for a, b in zip(found, values, strict=True))


def test_iso_codes_are_upper_case_only() -> None:
    assert [q.currency for q in find_quantities("I will try 5 times.")] == [None]


def test_dot_groups_without_decimals_mark_a_continental_article() -> None:
    assert number_style("The port handled 1.412 ships and 312.940 vehicles.") == "eu"
    assert number_style("It cost 1,450 euros and 1.412 more.") == "en"


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("The victims were Doreen Hollis, 64, and their tenant, Marcus Feld, 31.", "31"),
        ("“At 71, I still clean offices three mornings a week,” she said.", "71"),
        ("Deforestation fell 18% in the 12 months to July.", "12"),
    ],
)
def test_ages_at_the_end_and_windows_with_the(text: str, figure: str) -> None:
    from pipeline.nlp.figures import not_a_figure

    (q,) = [q for q in find_quantities(text) if q.text == figure]
    assert not_a_figure(text, q, []) is not None


# Pieces of figures and of what surrounds them, upper and lower case, with the letters that
# case-insensitive matching and str.lower() treat apart (İ, ı, ſ).
_PIECES = (
    "between", "from", "to", "and", "-", "–", " ", " ", " ", "May", "Sept.", "14", "200",
    "1,000", "2,500,000", "3.5", "1 200", "000", "$", "€", "Rs", "Rs.", "USD", "US$", "R$",
    "r5", "million", "bn", "k", "%", "per cent", "twenty", "Twenty", "FIVE", "twenty-five",
    "a dozen", "A ", "half", "one", "in", "out of", "every", "a", "third", "hundred", "lakh",
    "12:30", "2023", "1,20,000", "3,8", ".", ",", "-and-a-half", "six", "quarter", "of", "an",
    "İ", "ı", "ſ", "\n", "C$", "a$", "A$", "EUR", "gbp", "Rs ", "rs.", "\u00a0", "\t", "tenth",
    "Fifth", "thousand", "dozen", "a two", "A Quarter", "a half", "a day", "about", "said",
)  # fmt: skip


def _fuzzed(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        ("" if rng.random() < 0.5 else " ").join(
            rng.choice(_PIECES) for _ in range(rng.randint(1, 12))
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize("style", ["en", "eu"])
def test_figure_scans_match_every_position_scans(style: str) -> None:
    """The one-figure and range scans try their patterns only where a figure can start
    (_figure_starts, _range_matches); they must find what searching every position finds, so
    a pattern change that lets a figure start elsewhere fails here."""
    single, ranges = numbers._SINGLE[style], numbers._RANGE[style]
    for text in _fuzzed(3000, seed=11):
        expected, pos = [], 0
        while (m := single.search(text, pos)) is not None:
            expected.append(m.span())
            pos = m.end()
            if numbers._split_date(text, m.start(), m.group(0)):
                first = re.match(r"\d+", m.group(0))
                pos = m.start() + (first.end() if first else 1)
        _, scanned = numbers._single_matches(text, style)
        assert scanned == expected, text
        every = [m.span() for m in ranges.finditer(text)]
        found = [m.span() for m in numbers._range_matches(text, style, scanned)]
        assert found == every, text
        # narrowed to the positions where a figure can start, as find_quantities does
        starts = numbers._figure_starts(text)
        found = [m.span() for m in numbers._range_matches(text, style, scanned, starts)]
        assert found == every, text


def _qualifier_by_patterns(text: str, start: int) -> tuple[str, int]:
    """qualifier_before as the patterns decide it (the suffix tests must agree)."""
    window = text[max(0, start - 30) : start]
    for name, pattern in numbers._QUALIFIER:
        m = pattern.search(window)
        if m:
            return name, start - (len(window) - m.start())
    return "exact", start


def test_qualifier_suffix_tests_match_the_patterns() -> None:
    """qualifier_before reads the qualifier by suffix tests on the lower-cased text; it must
    find what the case-insensitive patterns find (longest phrase of the first pattern, word
    boundary before it, any trailing whitespace), case twins and upper case included."""
    rng = random.Random(13)
    phrases = [w for _, words in numbers.QUALIFIERS for w in words]
    others = [
        "the", "x", "_", "(", "an", "just", "not", "no", "up", "a", "İ", "ı", "ſ", "\n", "\t",
        " ", "\u00a0", "\u212a", "9", "-", "AS", "was", "photo", "into",
    ]  # fmt: skip

    def cased(w: str) -> str:
        r = rng.random()
        return w.upper() if r < 0.2 else w.title() if r < 0.3 else w

    for _ in range(20000):
        words = [
            cased(rng.choice(phrases)) if rng.random() < 0.5 else rng.choice(others)
            for _ in range(rng.randint(1, 6))
        ]
        end = rng.choice([" ", "  ", "\n", " \n", "", "\t", "\u00a0"])
        text = ("" if rng.random() < 0.3 else " ").join(words) + end + "42"
        start = len(text) - 2
        assert numbers.qualifier_before(text, start) == _qualifier_by_patterns(text, start), text


def test_first_letter_lookaheads_change_no_match() -> None:
    """The period and hedge patterns skip words by their first letter; without the lookahead
    they must match the same."""
    periods = re.compile(r"(?i)\b(?:" + "|".join(f"(?:{p})" for p in _PERIODS) + r")\b")
    hedges = re.compile(r"(?i)\b(?:" + "|".join(_HEDGE_TERMS) + r")\b")
    rng = random.Random(5)
    words = [
        "since the start of this year", "between 2020 and 2021", "in the past three months",
        "last week", "during the first quarter", "the first half of", "by May", "in June 2024",
        "from next", "a year ago", "on Monday", "since spring", "by the deadline", "end",
        "midnight", "reportedly", "allegedly", "an estimated", "estimates", "unverified",
        "unconfirmed", "could not be independently verified", "according to", "is said to",
        "were believed to", "purportedly", "supposedly", "apparently", "the", "of", "in", "a",
        "SİNCE", "ſince", "İn", "ıs", "LAST", "Two", "12", "ſupposedly", "ON",
    ]  # fmt: skip
    for _ in range(20000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 10)))
        assert [m.span() for m in _PERIOD.finditer(text)] == [
            m.span() for m in periods.finditer(text)
        ], text
        assert [m.span() for m in _HEDGE.finditer(text)] == [
            m.span() for m in hedges.finditer(text)
        ], text
