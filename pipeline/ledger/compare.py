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
    if not (dated(a) and dated(b)):
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
        return Relation("agrees", ratio, f"{how}: the figures overlap within {TOLERANCE:.0%}")
    return Relation("diverges", ratio, f"{how}: no overlap, ratio {ratio:.2f}" if ratio else how)


def relate(a: Figure, b: Figure) -> Relation:
    """The relation of two figures already known to count the same thing."""
    if a.figure_kind == "ordinal" or b.figure_kind == "ordinal":
        if a.figure_kind != b.figure_kind:
            return Relation("incomparable", None, "an ordinal and a count")
        if a.low == b.low:
            return Relation("agrees", 1.0, "the same ordinal")
        return Relation("contradicts", None, f"ordinal {a.low:g} vs {b.low:g}")
    rates = (a.figure_kind == "rate", b.figure_kind == "rate")
    if any(rates):
        pa, pb = per_day(a), per_day(b)
        if pa is None or pb is None:
            if all(rates):
                return Relation("incomparable", None, "a rate per an unknown unit of time")
            return Relation("incomparable", None, "a rate vs a total without a dated period")
        how = "daily rates" if all(rates) else "daily rates (total over its dated period)"
        return compare_intervals(pa, pb, how)
    if not _has_period(a) and not _has_period(b):
        return compare_intervals(interval(a), interval(b), "totals without a period")
    if _same_period(a, b):
        return compare_intervals(interval(a), interval(b), "totals for the same period")
    if not (dated(a) or dated(b)) and _period_words(a) == _period_words(b):
        return compare_intervals(interval(a), interval(b), "totals for the same period as written")
    if _has_period(a) != _has_period(b):
        return Relation("incomparable", None, "one figure has a period, the other none")
    return Relation("incomparable", None, "totals for different periods")


__all__ = ["DAYS_PER", "TOLERANCE", "Figure", "Relation", "interval", "per_day", "relate"]
