"""Number parsing and quantity finding (pipeline.nlp.numbers): no model needed."""

from __future__ import annotations

import math

import pytest

from pipeline.nlp.numbers import find_quantities, parse_number


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
