"""Find and parse quantities in text: "21,600", "1.5 million", "two thousand", "500k", "a quarter",
percentages, and ranges ("between X and Y", "X to Y", "X–Y", "from X to Y").

Pure regular expressions over the raw text, so offsets are exact and the module needs no model.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

SCALES = {
    "hundred": 1e2,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
    # Indian numbering: a lakh is 10^5, a crore 10^7 ("Rs 24 lakh", "₹4.8 lakh crore").
    "lakh": 1e5,
    "lakhs": 1e5,
    "crore": 1e7,
    "crores": 1e7,
}
_SMALL = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a dozen": 12,
    "a hundred": 100,
    "a thousand": 1000,
}
FRACTIONS = {
    "a quarter": 0.25,
    "one quarter": 0.25,
    "three quarters": 0.75,
    "three-quarters": 0.75,
    "a third": 1 / 3,
    "one third": 1 / 3,
    "one-third": 1 / 3,
    "two-thirds": 2 / 3,
    "two thirds": 2 / 3,
    "half": 0.5,
    "a half": 0.5,
    "one half": 0.5,
    "a fifth": 0.2,
    "one fifth": 0.2,
    "one-fifth": 0.2,
    "two-fifths": 0.4,
    "two fifths": 0.4,
    "a tenth": 0.1,
    "one tenth": 0.1,
    "one-tenth": 0.1,
}
# Fraction words that double as ordinals ("a third round", "a fifth exchange").
ORDINAL_FRACTIONS = {"a third", "a fifth", "a tenth", "one third", "one fifth", "one tenth"}
_DENOMINATORS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_DENOMINATORS.update({"nine": 9, "ten": 10, "a hundred": 100, "hundred": 100})

# "one" alone is left out on purpose: "one of the biggest" is not a figure.
_WORD = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-(?:one|two|three|four|five"
    r"|six|seven|eight|nine))?|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen"
    r"|eighteen|nineteen|two|three|four|five|six|seven|eight|nine|ten|a dozen|a hundred"
    r"|a thousand)"
)
# Thousands grouped by a thin space, no-break space or space ("1 184 300", "17 400 MW"): each
# group exactly three digits. English text groups with commas and writes decimals with a dot;
# continental text (``style="eu"``) groups with dots and writes decimals with a comma ("3,8 %",
# "€2.187,4 million"). Indian grouping ("1,20,000") has two-digit groups before the last three.
_SPACE_GROUPS = r"\d{1,3}(?:[ \u00a0\u202f]\d{3}(?![\d.,]\d))+(?!\d)"
_DIGITS = (
    r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d{1,2}(?:,\d\d)+,\d{3}(?!\d)|"
    + _SPACE_GROUPS
    + r"|\d+)(?:\.\d+)?"
)
_DIGITS_EU = r"(?:\d{1,3}(?:\.\d{3})+(?![\d.])|" + _SPACE_GROUPS + r"|\d+)(?:,\d+)?"
_SCALE = (
    r"(?:\s+(?:hundred|thousand|million|billion|trillion)|\s+lakhs?(?:\s+crores?)?|\s+crores?"
    r"|\s?(?:bn|mn)\b|(?<=\d)[km]\b)"
)
_WSCALE = r"(?:[\s-](?:hundred|thousand|million|billion|trillion|lakhs?|crores?))"
_FRACTION = "|".join(sorted((re.escape(f) for f in FRACTIONS), key=len, reverse=True))
_SMALLW = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|\d{1,3})"
# "one in five", "nine out of ten", "1 in 4": a share, read as a fraction.
_IN_EVERY = (
    rf"{_SMALLW}\s+(?:in|out\s+of)\s+(?:every\s+)?(?:two|three|four|five|six|seven|eight|nine"
    r"|ten|a hundred|hundred|\d{1,3})\b(?!\s+(?:years?|months?|weeks?|days?|hours?|decades?)\b)"
)
# "half a million", "a quarter of a million", "one and a half million", "2.5 thousand".
_FRACTION_SCALE = (
    r"(?:half|a quarter of|three quarters of|a third of)\s+an?\s+(?:hundred|thousand|million"
    r"|billion|trillion)"
)
_AND_HALF = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten)(?:\s+and\s+a\s+half\s+"
    r"(?:hundred|thousand|million|billion|trillion)|-and-a-half\b)"
)
# Signs and short forms written before the figure: dollar, euro, pound, yen/yuan, rouble,
# hryvnia, rupee (₹, Rs), real (R$), rand (R), won (₩), lira (₺).
_ISO_CURRENCY = (
    r"(?-i:USD|EUR|GBP|INR|JPY|CNY|RMB|KRW|BRL|ZAR|CAD|AUD|CHF|RUB|TRY|SAR|MXN|IDR|ARS|NGN"
    r"|KES|PKR)"
)
_CURRENCY = (
    r"(?:"
    + _ISO_CURRENCY
    + r"(?=\s?\d)|US\$|R\$|C\$|A\$|\$|€|£|¥|₽|₴|₹|₩|₺|Rs\.?(?=\s?\d)|R(?=\d))"
)
_PERCENT = r"(?:\s?%|\s(?:per\s?cent|percent|pct)\b|\spercentage points?\b)"


# One number (no range): currency? digits|words scale? percent?
# The lookahead fails fast inside words and at words no number starts with, which is most
# positions of a sentence (the regex runs over every sentence of every article): a number word
# is looked for by its first letters, so "the", "to" or "said" fail at their second letter.
def _num(digits: str) -> str:
    return (
        r"(?=[\d$€£¥₽₴₹₩₺]|US\$|R\$|C\$|A\$|Rs\.?\s?\d|R\d"
        r"|\b(?:a |one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirt|fift"
        rf"|twenty|forty|half)|{_ISO_CURRENCY}\s?\d)"
        rf"(?:{_CURRENCY}\s?)?(?:\b(?:{_IN_EVERY})\b|\b(?:{_FRACTION_SCALE})\b|\b(?:{_AND_HALF})\b"
        rf"|{digits}{_SCALE}?|\b(?:{_FRACTION})\b|\b(?:{_WORD}|one(?={_WSCALE}))"
        rf"(?:{_WSCALE}+(?:\s+and\s+{_WORD}\b(?!{_WSCALE}))?)?\b)"
        rf"(?:{_PERCENT})?"
    )


def _range_re(num: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?i)\bbetween\s+(?P<b1>{num})\s+and\s+(?P<b2>{num})"
        rf"|\bfrom\s+(?P<f1>{num})\s+to\s+(?P<f2>{num})"
        rf"|(?P<r1>{num})\s*(?:to|–|—|-)\s*(?P<r2>{num})"
    )


# One number (no range): currency? digits|words scale? percent?
# The lookahead fails fast inside words and on letters no number word starts with, which is
# most positions of a sentence (the regex runs over every sentence of every article).
NUM = _num(_DIGITS)
_NUM_EU = _num(_DIGITS_EU)
_RANGE = {"en": _range_re(NUM), "eu": _range_re(_NUM_EU)}
_SINGLE = {"en": re.compile(rf"(?i){NUM}"), "eu": re.compile(rf"(?i){_NUM_EU}")}
# These four start with a digit, then look behind it ("\d(?<![\d.,]\d)": the same test as a
# lookbehind before it). A pattern that starts with a character class lets the regex engine skip
# to the next digit in C: 3x faster over a whole article than one that starts with a lookbehind.
# Evidence of a document's convention: "3,8%", "7,2 %", "€14,20" (a comma then one, two or four
# and more digits) against "1.23", "0.5" (a dot then anything but exactly three digits).
_EU_EVIDENCE = re.compile(r"\d(?<![\d.,]\d)\d{0,2}(?:\.\d{3})*,(?:\d{1,2}|\d{4,})(?![\d,])")
_EN_EVIDENCE = re.compile(r"\d(?<![\d.,]\d)\d*\.(?:\d{1,2}|\d{4,})(?![\d.,]\d|\d)")
_EU_GROUPS = re.compile(r"\d(?<![\d.,]\d)\d{0,2}(?:\.\d{3})+(?![\d.,]?\d)")
_EN_GROUPS = re.compile(r"\d(?<![\d.,]\d)\d{0,2}(?:,\d{3})+(?![\d.,]?\d)")
_MONTH_BEFORE = re.compile(
    r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+$"
)


def number_style(text: str) -> str:
    """The number convention of a whole article: ``"eu"`` when it writes decimals with a comma
    ("3,8%", "61,8 million") or groups thousands with a dot ("1.412 ships"), and never writes
    a decimal point or a comma group ("1,450"), else ``"en"``. One article keeps one
    convention, so the choice is made once, over all of it."""
    if _EN_EVIDENCE.search(text):
        return "en"
    if _EU_EVIDENCE.search(text):
        return "eu"
    if _EU_GROUPS.search(text) and not _EN_GROUPS.search(text):
        return "eu"
    return "en"


def _normalise_digits(s: str, style: str) -> str:
    """English notation for a number string: group separators dropped, decimal point a dot."""
    s = _SPACE_SEPARATOR.sub("", s)
    if style == "eu":
        s = _DOT_SEPARATOR.sub("", s)
        s = _DECIMAL_COMMA.sub(".", s)
    return s


_SPACE_SEPARATOR = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}(?!\d))")
_DOT_SEPARATOR = re.compile(r"(?<=\d)\.(?=\d{3}(?!\d))")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")


_NUMBER_WORD = re.compile(r"[a-z]", re.IGNORECASE)

QUALIFIERS = (
    (
        "approximately",
        (
            "about",
            "around",
            "some",
            "roughly",
            "approximately",
            "an estimated",
            "nearly",
            "almost",
            "close to",
            "closer to",
            "estimated",
            "circa",
            "approx.",
        ),
    ),
    ("up_to", ("no more than", "not more than", "at most", "a maximum of", "no higher than")),
    (
        "more_than",
        (
            "more than",
            "over",
            "above",
            "in excess of",
            "upwards of",
            "over than",
            # "the losses would exceed 250,000 dollars": the figure is a lower bound
            "exceed",
            "exceeds",
            "exceeded",
            "exceeding",
        ),
    ),
    ("at_least", ("at least", "no fewer than", "no less than", "a minimum of", "not less than")),
    ("less_than", ("less than", "under", "fewer than", "below", "just under")),
    (
        "up_to",
        (
            "up to",
            "as many as",
            "as much as",
            "a maximum of",
            "a maximum value of",
            "up to an additional",
            "up to a further",
            "up to another",
        ),
    ),
)
_QUALIFIER = [
    (name, re.compile(rf"(?i)\b(?:{'|'.join(re.escape(w) for w in words)})\s+$"))
    for name, words in QUALIFIERS
]
_QUALIFIER_ENDS = tuple(sorted({w.split()[-1] for _, words in QUALIFIERS for w in words}))


@dataclass(frozen=True)
class Quantity:
    """A figure found in text: offsets into that text and its parsed value."""

    start: int
    end: int
    text: str
    low: float
    high: float
    qualifier: str
    percent: bool
    currency: str | None
    has_scale: bool
    is_range: bool

    def shifted(self, by: int) -> Quantity:
        """The same figure with its offsets moved by ``by`` (into a longer text)."""
        return dataclasses.replace(self, start=self.start + by, end=self.end + by)


# parse_number's patterns, compiled once (it runs for every figure of every article).
_PLAIN_EN = re.compile(r"\d[\d,]*(?:\.\d+)?")
_PERCENT_END = re.compile(rf"(?i){_PERCENT}\s*$")
_CURRENCY_START = re.compile(rf"^{_CURRENCY}\s?")
_SHARE = re.compile(r"(\w+) (?:in|out of) (?:every )?(\w+(?: hundred)?)")
_FRACTION_OF_SCALE = re.compile(r"(half|a quarter of|three quarters of|a third of) an? (\w+)")
_HYPHENATED_HALF = re.compile(r"(\w+)-and-a-half")
_AND_A_HALF_SCALE = re.compile(r"(\w+) and a half (\w+)")
_AND_TAIL = re.compile(r"(.+?) and ([a-z-]+)")
_HUNDRED_THOUSAND = re.compile(r"hundred|thousand")
_DIGITS_REST = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?(.*)")
_WORDS_SCALES = re.compile(
    r"(.+?)((?:[\s-](?:" + "|".join(sorted(SCALES, key=len, reverse=True)) + r"))*)"
)
_SCALE_WORD = re.compile(
    r"(?i)(hundred|thousand|million|billion|trillion|lakhs?|crores?|bn|mn|(?<=\d)[km])\b"
)
_PERCENT_AT_END = re.compile(rf"(?i){_PERCENT}$")
_CURRENCY_AT_START = re.compile(_CURRENCY)
_SPACE_GROUPED = re.compile(r"\d{1,3}[ \u00a0\u202f]\d")


def parse_number(text: str, style: str = "en") -> float | None:
    """Parse one number expression ("21,600", "1.5 million", "two thousand", "500k", "a quarter").

    Currency signs and percent words are ignored (they are units, not values). None if unparsable.
    ``style="eu"`` reads "1.234,5" as 1234.5 (see ``number_style``).
    """
    if style == "en" and _PLAIN_EN.fullmatch(text):
        return float(text.replace(",", ""))  # most figures: what the steps below end with
    text = _normalise_digits(text, style)
    s = _PERCENT_END.sub("", text.strip()).strip()
    s = _CURRENCY_START.sub("", s).strip().lower()
    s = " ".join(s.split())
    if s in FRACTIONS:
        return FRACTIONS[s]
    share = _SHARE.fullmatch(s)
    if share:
        num, den = _small_or_digits(share.group(1)), _small_or_digits(share.group(2))
        return num / den if num is not None and den else None
    m = _FRACTION_OF_SCALE.fullmatch(s)
    if m and m.group(2) in SCALES:
        frac = FRACTIONS[m.group(1).removesuffix(" of")]
        return frac * SCALES[m.group(2)]
    m = _HYPHENATED_HALF.fullmatch(s)
    if m and m.group(1) in _SMALL | {"one": 1}:
        return ({"one": 1} | _SMALL)[m.group(1)] + 0.5  # "five-and-a-half years"
    m = _AND_A_HALF_SCALE.fullmatch(s)
    if m and m.group(2) in SCALES and m.group(1) in _SMALL | {"one": 1}:
        return (({"one": 1} | _SMALL)[m.group(1)] + 0.5) * SCALES[m.group(2)]
    m = _AND_TAIL.fullmatch(s)
    if m and _HUNDRED_THOUSAND.search(m.group(1)):
        head, tail = parse_number(m.group(1)), word_value(m.group(2))
        return head + tail if head is not None and tail is not None else None
    m = _DIGITS_REST.fullmatch(s)
    if m:
        value = float(m.group(1).replace(",", ""))
        rest = m.group(2).strip()
    else:
        w = _WORDS_SCALES.fullmatch(s)
        base = word_value(w.group(1)) if w else None
        if w is not None and w.group(1) == "one" and w.group(2):
            base = 1  # "one million"; "one" alone is not a figure
        if w is None or base is None:
            return None
        value = float(base)
        rest = w.group(2)
    for part in rest.replace("-", " ").split():
        if part not in SCALES:
            return None
        value *= SCALES[part]
    return value


def _small_or_digits(word: str) -> float | None:
    if word.isdigit():
        return float(word)
    if word in _DENOMINATORS:
        return float(_DENOMINATORS[word])
    return float(_SMALL[word]) if word in _SMALL else (1.0 if word == "one" else None)


def word_value(word: str) -> int | None:
    """The value of a number word ("twelve", "forty-two", "a dozen"), or None."""
    if word in _SMALL:
        return _SMALL[word]
    if "-" in word:
        tens, _, unit = word.partition("-")
        if tens in _SMALL and unit in _SMALL:
            return _SMALL[tens] + _SMALL[unit]
    return None


def _scale_of(text: str) -> str | None:
    m = _SCALE_WORD.search(text)
    return m.group(1).lower() if m else None


def _is_percent(text: str) -> bool:
    return _PERCENT_AT_END.search(text) is not None


def _currency(text: str) -> str | None:
    m = _CURRENCY_AT_START.match(text)
    return m.group(0) if m else None


def qualifier_before(text: str, start: int) -> tuple[str, int]:
    """The qualifier written just before ``start`` ("more than 90") and where it begins."""
    window = text[max(0, start - 30) : start]
    # Every qualifier pattern is a phrase, then whitespace to the end ("\s+$").
    if not window[-1:].isspace():
        return "exact", start
    if _has_case_twin(window):
        # Case-insensitive matching takes these letters for others: the patterns decide.
        for name, pattern in _QUALIFIER:
            m = pattern.search(window)
            if m:
                return name, start - (len(window) - m.start())
        return "exact", start
    # What the patterns match, by suffix tests on the lower-cased text (several times faster):
    # a phrase ends where the trailing whitespace starts and starts a word ("\b"); of two
    # phrases of one pattern that both end there, the search finds the longer one (it starts
    # further left), and the first pattern in order with a phrase there wins.
    stripped = window.rstrip()
    low = stripped.lower()
    if not low.endswith(_QUALIFIER_ENDS):
        return "exact", start  # most figures: no phrase's last word ends the window
    for name, phrases in QUALIFIERS:
        begin = -1
        for phrase in phrases:
            if low.endswith(phrase):
                i = len(low) - len(phrase)
                # \b before a letter: the window starts there or a non-word character precedes
                if (i == 0 or not (stripped[i - 1].isalnum() or stripped[i - 1] == "_")) and (
                    begin == -1 or i < begin
                ):
                    begin = i
        if begin != -1:
            return name, start - (len(window) - begin)
    return "exact", start


def _range_value(first: str, second: str, style: str) -> tuple[float, float] | None:
    lo, hi = parse_number(first, style), parse_number(second, style)
    if lo is None or hi is None:
        return None
    # "between 1.2 and 1.5 million", "20-25%": the scale or percent written once applies to both.
    scale = _scale_of(second)
    if scale and not _scale_of(first):
        lo *= SCALES[scale]
    if hi < lo:
        return None
    return lo, hi


# Every figure NUM can match holds a digit or one of these number words (a fraction or "a dozen"
# by its second word): a sentence with neither has no figure, and looking for them is far
# cheaper than the range and figure patterns.
# fmt: off
_NUMBER_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "half",
    "quarter", "third", "fifth", "tenth", "dozen", "hundred", "thousand",
)
# fmt: on
_MAY_HOLD_NUMBER = re.compile(r"(?i)\d|" + "|".join(_NUMBER_WORDS))
_DIGIT = re.compile(r"\d")
_LETTER_HYPHEN = re.compile(r"[A-Za-z]-$")
# Letters that case-insensitive patterns take for an ASCII letter although str.lower() does not
# turn them into it (İ, ı, ſ; the Kelvin sign lowers to "k").
_CASE_TWINS = ("\u0130", "\u0131", "\u017f")


def _has_case_twin(text: str) -> bool:
    """Whether ``text`` holds one of ``_CASE_TWINS`` (three ``in`` tests: faster than any())."""
    return "\u0130" in text or "\u0131" in text or "\u017f" in text


def may_hold(text: str, words: Sequence[str], pattern: re.Pattern[str]) -> bool:
    """Whether ``text`` holds one of ``words`` in any case (``pattern`` searches the same, as a
    case-insensitive regex; substring tests on the lower-cased text are several times faster
    than its alternation)."""
    if _has_case_twin(text):
        return pattern.search(text) is not None
    low = text.lower()
    for w in words:  # noqa: SIM110 - a plain loop is a third faster than any() over a generator
        if w in low:
            return True
    return False


def find_quantities(text: str, style: str = "en") -> list[Quantity]:
    """Every figure in ``text``, ranges first, with value, qualifier and percent/currency flags.
    ``style`` is the article's number convention (``number_style``)."""
    if _DIGIT.search(text) is None and not may_hold(text, _NUMBER_WORDS, _MAY_HOLD_NUMBER):
        return []
    starts = _figure_starts(text)
    singles, scanned = _single_matches(text, style, starts)
    if not scanned:
        return []  # a range holds two figures
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []
    for m in _range_matches(text, style, scanned, starts):
        if _split_date(text, m.start(), m.group(0)):
            continue
        a, b = next(
            (m.group(x), m.group(y))
            for x, y in (("b1", "b2"), ("f1", "f2"), ("r1", "r2"))
            if m.group(x) is not None
        )
        # "12:30", "2023-2025", "T-72" are not ranges of figures.
        if m.group("r1") is not None and not (
            (_DIGIT.search(a) and _DIGIT.search(b)) or " to " in m.group(0).lower()
        ):
            continue
        if m.group("r1") is not None and _LETTER_HYPHEN.search(
            text[max(0, m.start() - 2) : m.start() + 1]
        ):
            continue
        if (_is_percent(a) and not _is_percent(b)) or (
            _currency(b.strip()) and _currency(a.strip()) != _currency(b.strip())
        ):
            # "jumped 3.1% to $11.42", "rose 8% to 212 billion dollars": a change and the level
            # it reached, two figures; "$5 to 8" and "20-25%" remain ranges.
            continue
        values = _range_value(a, b, style)
        if values is None:
            continue
        found.append(
            Quantity(
                start=m.start(),
                end=m.end(),
                text=m.group(0),
                low=values[0],
                high=values[1],
                qualifier="range",
                percent=_is_percent(b) or _is_percent(a),
                currency=_currency(a) or _currency(b),
                has_scale=bool(_scale_of(a) or _scale_of(b)),
                is_range=True,
            )
        )
        taken.append((m.start(), m.end()))
    for sm in singles:
        if taken and any(s <= sm.start() < e for s, e in taken):
            continue
        figure = sm.group(0)
        # Digits, commas and a dot only (most figures): no percent sign or word, currency or
        # scale word can be in it, and in English notation its value is parse_number's first
        # step (tested once here rather than again there).
        digits_only = _PLAIN_EN.fullmatch(figure) is not None
        if digits_only and style == "en":
            value: float | None = float(figure.replace(",", ""))
        else:
            value = parse_number(figure, style)
        if value is None:
            continue
        qualifier, _ = qualifier_before(text, sm.start())
        found.append(
            Quantity(
                start=sm.start(),
                end=sm.end(),
                text=figure,
                low=value,
                high=value,
                qualifier=qualifier,
                percent=False if digits_only else _is_percent(figure),
                currency=None if digits_only else _currency(figure),
                has_scale=False if digits_only else _scale_of(figure) is not None,
                is_range=False,
            )
        )
    if taken:
        # Ranges, then single figures: each list is in text order, so only a text with both
        # needs sorting.
        found.sort(key=lambda q: q.start)
    return found


_ALL_POSITIONS: list[int] = []  # the default of _single_matches: compute _figure_starts


def _single_matches(
    text: str, style: str, starts: list[int] | None = _ALL_POSITIONS
) -> tuple[list[re.Match[str]], list[tuple[int, int]]]:
    """The one-figure matches of ``text`` in order, left to right without overlap; and the
    spans of every match the scan found, those it then passed over included. ``starts`` is
    ``_figure_starts(text)`` when the caller has it."""
    single = _SINGLE[style]
    out: list[re.Match[str]] = []
    scanned: list[tuple[int, int]] = []
    if starts is _ALL_POSITIONS:
        starts = _figure_starts(text)
    pos = 0
    k = 0
    while True:
        # The pattern tried only where a figure can start: the same matches as searching
        # every position, without entering the pattern at each of them.
        if starts is None:
            sm = single.search(text, pos)
        else:
            sm = None
            while k < len(starts) and sm is None:
                if starts[k] >= pos:
                    sm = single.match(text, starts[k])
                k += 1
        if sm is None:
            break
        pos = sm.end()
        scanned.append(sm.span())
        if _split_date(text, sm.start(), sm.group(0)):
            # "on May 14 200 people": the day of a date, then a figure of its own
            first = _LEADING_DIGITS.match(sm.group(0))
            pos = sm.start() + (first.end() if first else 1)
            continue
        out.append(sm)
    return out, scanned


_LEADING_DIGITS = re.compile(r"\d+")
_DIGITS_OR_SIGNS = re.compile(r"[\d$€£¥₽₴₹₩₺]+")
# The words NUM's lookahead lets a figure start with, lower case.
_FIGURE_WORDS = (
    "a ", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirt", "fift", "twenty", "forty", "half",
)  # fmt: skip
# "a " opens a figure only before "dozen", "hundred", "thousand", "quarter", "third", "half",
# "fifth" or "tenth": the first letters of these (a position before any other letter cannot
# hold a figure, and "a day", "a spokesman" are a good part of the positions the words give).
_AFTER_A = frozenset("dhtqf")


# The letters a currency written before a run of digits or signs can start with ("US$", "R$",
# "C$", "A$", "Rs", "R5" in any case; the ISO codes in upper case only).
_CURRENCY_LETTERS = frozenset("UuRrCcAa" + "".join(re.findall(r"[A-Z](?=[A-Z]{2})", _ISO_CURRENCY)))
# What a currency written before a run of digits or signs is, from where it starts to that run:
# "US" ("US$"), "R", "C", "A" ("R$", "R5"), "Rs" with its full stop and space if any, in any
# case; or an ISO code and a space if any, in upper case. The other letters before a run ("the
# 5", "about 300", "from 2") start no figure.
_CURRENCY_GAP = re.compile(r"(?i:US|[RCA]|Rs\.?\s?)|" + _ISO_CURRENCY + r"\s?")


def _figure_starts(text: str) -> list[int] | None:
    """Every position where NUM can match, in order (a few more do no harm): in a run of digits
    and currency signs, or before such a run where a currency written before it starts ("USD
    5", "Rs. 5", "US$"), or where a number word starts a word (the lookahead's word
    boundary). None when the text holds a letter that case-insensitive matching and
    ``str.lower`` treat apart (then every position must be tried). Each position left out
    spares the figure pattern a try (most of the scan's time)."""
    if _has_case_twin(text):
        return None
    starts: set[int] = set()
    for m in _DIGITS_OR_SIGNS.finditer(text):
        a = m.start()
        if not _CURRENCY_LETTERS.isdisjoint(text[max(0, a - 4) : a]):
            for i in range(max(0, a - 4), a):
                if text[i] in _CURRENCY_LETTERS and _CURRENCY_GAP.fullmatch(text, i, a):
                    starts.add(i)
        starts.update(range(a, m.end()))
    low = text.lower()
    for word in _FIGURE_WORDS:
        i = low.find(word)
        while i != -1:
            # \b before a word: the text starts there, or a character \w does not match
            # (str.isalnum is \w without the underscore) comes before it.
            if (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) and (
                word != "a " or low[i + 2 : i + 3] in _AFTER_A
            ):
                starts.add(i)
            i = low.find(word, i + 1)
    return sorted(starts)


_BETWEEN_FROM = re.compile(r"(?i)\b(?=[bf])(?:between|from)\s")


def _range_matches(
    text: str,
    style: str,
    scanned: list[tuple[int, int]],
    figure_starts: list[int] | None = None,
) -> Iterator[re.Match[str]]:
    """What ``_RANGE[style].finditer(text)`` yields, trying the pattern only where a match can
    start: a range opens with "between", "from" or a figure, and a figure can only start inside
    a span the single scan matched (it tried every other position and found none there). The
    range pattern is the costliest scan of the rules, and most positions of a sentence are
    none of these. ``figure_starts`` (``_figure_starts(text)``, if given) narrows a span to
    the positions where a figure can start at all ("1,900" and "5 million" are tried at their
    digits only, not at the comma or the letters of the scale)."""
    low = text.lower()
    # "between" and "from" hold no letter with a case twin: without them in the lower-cased
    # text, _BETWEEN_FROM cannot match.
    if "between" in low or "from" in low:
        starts = {m.start() for m in _BETWEEN_FROM.finditer(text)}
    else:
        starts = set()
    # A range that opens with a figure has "to" or a dash after it (and with figure_starts,
    # where a figure can start after that): no figure at or after the last of them opens one
    # ("to" has no case twin; İ lowers to two characters, which would shift the offsets of the
    # lower-cased text).
    if "\u0130" in text:
        limit = len(text)
    elif figure_starts is None:
        limit = max(text.rfind("-"), text.rfind("\u2013"), text.rfind("\u2014"), low.rfind("to"))
    else:
        limit = _last_separator(text, low, figure_starts)
    for a, b in scanned:
        b = min(b, limit)
        if a >= b:
            continue
        if figure_starts is None:
            starts.update(range(a, b))
        else:
            lo = bisect_left(figure_starts, a)
            starts.update(figure_starts[lo : bisect_left(figure_starts, b, lo)])
    pattern = _RANGE[style]
    pos = 0
    for p in sorted(starts):
        if p < pos:
            continue
        m = pattern.match(text, p)
        if m is not None:
            pos = m.end()
            yield m


_SEPARATORS = ("-", "\u2013", "\u2014", "to")


def _last_separator(text: str, low: str, figure_starts: list[int]) -> int:
    """Where the last "to" or dash that a figure can follow starts (-1 if none): the second
    figure of a range starts after it and the spaces after it, where a figure can start
    (``figure_starts``, from ``text`` without İ, so ``low`` has the same offsets). "told",
    "into the" and "to say" are passed over."""
    can_start = set(figure_starts)
    n = len(text)
    limit = -1
    for sep in _SEPARATORS:
        source = low if sep == "to" else text
        q = source.rfind(sep)
        while q > limit:
            r = q + len(sep)
            while r < n and text[r].isspace():  # the range pattern's \s* (str.isspace is \s)
                r += 1
            if r in can_start:
                limit = q
                break
            q = source.rfind(sep, 0, q)
    return limit


def _split_date(text: str, start: int, matched: str) -> bool:
    """A space-grouped figure right after a month name is a day and a number ("May 14 200")."""
    return (
        _SPACE_GROUPED.match(matched) is not None
        and _MONTH_BEFORE.search(text, max(0, start - 12), start) is not None
    )


__all__ = [
    "FRACTIONS",
    "Quantity",
    "find_quantities",
    "number_style",
    "parse_number",
    "qualifier_before",
]
