"""Comparing two figures of one measure (issue 15): pure functions over :class:`Figure`.

A figure becomes an interval (qualifiers widen it: "about" by 10 %, "more than" open above),
then, when it is a rate or a total over a dated period, a daily rate. Two figures are compared
only in a form both have: totals for the same period (or both without one), or daily rates. What
cannot be put on one footing is ``incomparable``, with the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property

# Relative slack when deciding whether two intervals agree (rounding, "about").
TOLERANCE = 0.10
# Periods whose ends differ by at most this many days are the same period.
SAME_PERIOD_DAYS = 3
DAYS_PER = {
    "second": 1 / 86400,
    "hour": 1 / 24,
    "day": 1.0,
    "week": 7.0,
    "month": 30.44,
    "year": 365.25,
}
APPROXIMATE = 0.10


@dataclass(frozen=True)
class Figure:
    """What comparing needs of one numeric claim."""

    low: float
    high: float
    qualifier: str = "exact"
    figure_kind: str = "total"
    rate_per: str | None = None
    period: str | None = None
    period_start: date | None = None
    period_end: date | None = None

    # A new claim is compared with up to a window's worth of its measure's claims, and each of
    # those with every new claim of the batch: what a figure contributes to a comparison is
    # worked out once per figure, not once per pair. (Not fields: equality and hashing ignore
    # them.)
    @cached_property
    def bounds(self) -> tuple[float, float]:
        """:func:`interval` of this figure."""
        return interval(self)

    @cached_property
    def daily(self) -> tuple[float, float] | None:
        """:func:`per_day` of this figure."""
        return per_day(self)

    @cached_property
    def has_period(self) -> bool:
        """Whether the figure names or dates a period."""
        return _has_period(self)

    @cached_property
    def is_dated(self) -> bool:
        """:func:`dated` of this figure."""
        return dated(self)

    @cached_property
    def period_words(self) -> str:
        """The period as written, normalised (every "since the war began" wording as one)."""
        return _period_words(self)


@dataclass(frozen=True)
class Relation:
    """The relation of two figures, the ratio of their midpoints when comparable, and why."""

    relation: str
    ratio: float | None
    reason: str


def interval(f: Figure) -> tuple[float, float]:
    """The values the claim allows: exact X -> [X, X], about X -> [0.9X, 1.1X], more than X ->
    [X, inf), up to X -> [0, X], a range -> [low, high]."""
    lo, hi = f.low, f.high
    q = f.qualifier
    if q == "approximately":
        return lo * (1 - APPROXIMATE), hi * (1 + APPROXIMATE)
    if q in ("more_than", "at_least"):
        return lo, math.inf
    if q in ("less_than", "up_to"):
        return 0.0, hi
    return lo, hi


def dated(f: Figure) -> bool:
    """Whether the figure's period resolved to a start and an end."""
    return f.period_start is not None and f.period_end is not None


def period_days(f: Figure) -> float | None:
    """Length of a dated period in days (both ends included)."""
    if f.period_start is None or f.period_end is None:
        return None
    return float(max((f.period_end - f.period_start).days + 1, 1))


def per_day(f: Figure) -> tuple[float, float] | None:
    """The figure as a daily rate: a rate converted, a total divided by its dated period."""
    lo, hi = interval(f)
    if f.figure_kind == "rate" and f.rate_per in DAYS_PER:
        d = DAYS_PER[f.rate_per]
        return lo / d, hi / d
    if f.figure_kind in ("total", "change"):
        days = period_days(f)
        if days is not None:
            return lo / days, hi / days
    return None


def _same_period(a: Figure, b: Figure) -> bool:
    if not (a.is_dated and b.is_dated):
        return False
    assert a.period_start and a.period_end and b.period_start and b.period_end
    return (
        abs((a.period_start - b.period_start).days) <= SAME_PERIOD_DAYS
        and abs((a.period_end - b.period_end).days) <= SAME_PERIOD_DAYS
    )


def _has_period(f: Figure) -> bool:
    return bool(f.period) or f.period_start is not None or f.period_end is not None


# Running totals since a war began, however worded, cover the same (undated) period.
_WAR_TO_DATE = re.compile(
    r"since (?:the )?(?:start|beginning|outbreak|onset) of (?:the|its|this) "
    r"(?:war|conflict|invasion|fighting|hostilities)"
    r"|since the (?:war|conflict|invasion|fighting|hostilities) (?:began|started|broke out)"
)


def _period_words(f: Figure) -> str:
    words = " ".join((f.period or "").lower().split())
    return "since the war began" if _WAR_TO_DATE.search(words) else words


def _mid(lo: float, hi: float) -> float:
    if math.isinf(hi):
        return lo
    return (lo + hi) / 2


def compare_intervals(a: tuple[float, float], b: tuple[float, float], how: str) -> Relation:
    """agrees when the intervals overlap within the tolerance, else diverges; with the ratio."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    ma, mb = _mid(*a), _mid(*b)
    small, big = sorted((ma, mb))
    ratio = big / small if small > 0 else None
    if lo <= hi * (1 + TOLERANCE):
        return Relation("agrees", ratio, _overlap_reason(how))
    return Relation("diverges", ratio, f"{how}: no overlap, ratio {ratio:.2f}" if ratio else how)


@cache
def _overlap_reason(how: str) -> str:
    return f"{how}: the figures overlap within {TOLERANCE:.0%}"


def relate(a: Figure, b: Figure) -> Relation:
    """The relation of two figures already known to count the same thing."""
    if a.figure_kind == "ordinal" or b.figure_kind == "ordinal":
        if a.figure_kind != b.figure_kind:
            return _ORDINAL_AND_COUNT
        if a.low == b.low:
            return _SAME_ORDINAL
        return Relation("contradicts", None, f"ordinal {a.low:g} vs {b.low:g}")
    rates = (a.figure_kind == "rate", b.figure_kind == "rate")
    if any(rates):
        pa, pb = a.daily, b.daily
        if pa is None or pb is None:
            if all(rates):
                return _UNKNOWN_RATE_UNIT
            return _RATE_AND_UNDATED_TOTAL
        how = "daily rates" if all(rates) else "daily rates (total over its dated period)"
        return compare_intervals(pa, pb, how)
    if not a.has_period and not b.has_period:
        return compare_intervals(a.bounds, b.bounds, "totals without a period")
    if _same_period(a, b):
        return compare_intervals(a.bounds, b.bounds, "totals for the same period")
    if not (a.is_dated or b.is_dated) and a.period_words == b.period_words:
        return compare_intervals(a.bounds, b.bounds, "totals for the same period as written")
    if a.has_period != b.has_period:
        return _PERIOD_AND_NONE
    return _DIFFERENT_PERIODS


# The relations that carry no figure of their own, made once.
_ORDINAL_AND_COUNT = Relation("incomparable", None, "an ordinal and a count")
_SAME_ORDINAL = Relation("agrees", 1.0, "the same ordinal")
_UNKNOWN_RATE_UNIT = Relation("incomparable", None, "a rate per an unknown unit of time")
_RATE_AND_UNDATED_TOTAL = Relation("incomparable", None, "a rate vs a total without a dated period")
_PERIOD_AND_NONE = Relation("incomparable", None, "one figure has a period, the other none")
_DIFFERENT_PERIODS = Relation("incomparable", None, "totals for different periods")


__all__ = ["DAYS_PER", "TOLERANCE", "Figure", "Relation", "interval", "per_day", "relate"]
