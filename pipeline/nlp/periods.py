"""Periods a figure covers ("in October", "since February 2022", "last week", "by the deadline"),
resolved to dates relative to the article's publication date where possible."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from pipeline.nlp.numbers import word_value

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS.pop("may", None)  # "may" the verb is far more common than May abbreviated
MONTHS["may"] = 5
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMW = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_UNIT = r"(?:hours?|days?|weeks?|months?|years?)"
_YEAR = r"(?:19|20)\d\d"

_PATTERNS = [
    r"since (?:the )?(?:beginning|start) of (?:the|this) year",
    r"since (?:the )?(?:beginning|start|outbreak) of the \w+",
    r"since the \w+ (?:began|started)",
    rf"since (?:{_MONTH}(?: {_YEAR})?|{_YEAR})",
    rf"between {_YEAR} and {_YEAR}",
    rf"(?:in|during|over|for) (?:the )?(?:past|last) {_NUMW} {_UNIT}",
    r"(?:in|during|over) the (?:past|last) (?:week|month|year|day)",
    rf"(?:in|during) the (?:first|second|third|fourth|last) quarter(?: of {_YEAR})?",
    rf"(?:in|during|over) the (?:first|second) half of (?:the year|this year|last year|{_YEAR})",
    rf"(?:in|during|for|by) (?:{_MONTH}(?: {_YEAR})?|{_YEAR})",
    rf"from {_MONTH}(?: {_YEAR})?",
    r"(?:last|this|next) (?:week|month|year|winter|summer|spring|autumn)",
    r"a year (?:earlier|ago|before)",
    rf"on {_WEEKDAY}",
    rf"since (?:last )?(?:{_WEEKDAY}|spring|summer|autumn|winter)",
    r"by (?:the )?(?:deadline|end of the (?:year|month|week)|midnight)",
    rf"{_NUMW} {_UNIT} ago",
]
# The lookaheads hold the letters (and digits) the patterns can start with, then their first
# two or three letters grouped by the first (a new pattern adds its own): at a word that starts
# with none of them, the search fails at once instead of trying every pattern (twice as fast),
# and the second one passes over the common words that share a first letter with a pattern
# ("the", "said", "of": a fifth faster again).
_PERIOD = re.compile(
    r"(?i)\b(?=[sbidofltnae\d])"
    r"(?=a |b(?:et|y)|dur|eig|f(?:or|ou|ro|iv)|in|las|n(?:ex|in)|o(?:n|ve)|s(?:in|ix|ev)"
    r"|t(?:hi|hr|w|en)|\d)"
    r"(?:" + "|".join(f"(?:{p})" for p in _PATTERNS) + r")\b"
)
# "said on Monday": the time of speaking, not of the figure.
_SPEECH_BEFORE = re.compile(
    r"(?i)\b(?:said|says|claimed|reported|announced|stated|added|told \w+|wrote|noted)"
    r"(?: \w+)?\s+$"
)


@dataclass(frozen=True)
class Period:
    """A period expression: offsets in the searched text, the words, and resolved dates."""

    start: int
    end: int
    text: str
    date_start: date | None
    date_end: date | None


def find_periods(text: str, published: date | None) -> list[Period]:
    """Period expressions in ``text`` (not those dating the act of speaking)."""
    out = []
    for m in _PERIOD.finditer(text):
        if m.group(0).lower().startswith("on ") and _SPEECH_BEFORE.search(text[: m.start()]):
            continue
        lo, hi = _resolve_cached(m.group(0), published)
        out.append(Period(m.start(), m.end(), m.group(0), lo, hi))
    return out


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _month_year(month: int, year: str | None, published: date | None) -> int | None:
    if year:
        return int(year)
    if published is None:
        return None
    # A month later than the publication month refers to last year ("in December", said in May).
    return published.year if month <= published.month else published.year - 1


# resolve's patterns, compiled once (it runs for every period found).
_MONTH_YEAR = re.compile(rf"(?i)({_MONTH})(?: ({_YEAR}))?")
_YEARS = re.compile(_YEAR)
_SINCE_DAY = re.compile(rf"(?i)({_WEEKDAY})")
_HALF = re.compile(r"(first|second) half of (?:the year|this year|(last year)|((?:19|20)\d\d))")
_QUARTER = re.compile(r"(first|second|third|fourth|last) quarter")
_SPAN = re.compile(rf"(?:past|last) ({_NUMW}) ({_UNIT})")
_RELATIVE = re.compile(r"(?:in |during |over )?(the past|the last|last|this|next) (\w+)")
_ON_DAY = re.compile(rf"on ({_WEEKDAY})", re.IGNORECASE)


def resolve(expr: str, published: date | None) -> tuple[date | None, date | None]:
    """Dates for one period expression, or (None, None) when it cannot be pinned down."""
    s = expr.lower()
    pub = published
    m = _MONTH_YEAR.search(expr)
    years = _YEARS.findall(s)
    if s.startswith("since"):
        if "year" in s and pub:
            return date(pub.year, 1, 1), pub
        since_day = _SINCE_DAY.search(s)
        if since_day and pub:
            back = (pub.weekday() - WEEKDAYS.index(since_day.group(1).lower())) % 7 or 7
            return pub - timedelta(days=back), pub
        if m:
            y = _month_year(MONTHS[m.group(1).lower()], m.group(2), pub)
            return (date(y, MONTHS[m.group(1).lower()], 1) if y else None), pub
        if years:
            return date(int(years[0]), 1, 1), pub
        return None, pub
    if s.startswith("between") and len(years) == 2:
        return date(int(years[0]), 1, 1), date(int(years[1]), 12, 31)
    if s.startswith("from") and m:
        y = _month_year(MONTHS[m.group(1).lower()], m.group(2), pub)
        if y is None:
            return None, None
        # "from November" in October means the coming November.
        if pub and not m.group(2) and MONTHS[m.group(1).lower()] >= pub.month:
            y = pub.year
        return date(y, MONTHS[m.group(1).lower()], 1), None
    half = _HALF.search(s)
    if half:
        if half.group(3):
            y = int(half.group(3))
        elif pub is not None:
            y = pub.year - (1 if half.group(2) else 0)
        else:
            return None, None
        first = half.group(1) == "first"
        return (date(y, 1, 1), date(y, 6, 30)) if first else (date(y, 7, 1), date(y, 12, 31))
    q = _QUARTER.search(s)
    if q and pub:
        n = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": 4}[q.group(1)]
        y = int(years[0]) if years else (pub.year if n * 3 <= pub.month else pub.year - 1)
        return date(y, n * 3 - 2, 1), _month_range(y, n * 3)[1]
    if m and not s.startswith("by"):
        y = _month_year(MONTHS[m.group(1).lower()], m.group(2), pub)
        return _month_range(y, MONTHS[m.group(1).lower()]) if y else (None, None)
    if years and not s.startswith("by"):
        return date(int(years[0]), 1, 1), date(int(years[0]), 12, 31)
    if pub is None:
        return None, None
    span = _SPAN.search(s)
    if span:
        k = int(span.group(1)) if span.group(1).isdigit() else word_value(span.group(1))
        if k is None:  # _NUMW only admits words word_value knows; kept for the type checker
            return None, None
        unit = span.group(2).rstrip("s")
        days = {"hour": k / 24, "day": k, "week": 7 * k, "month": 30 * k, "year": 365 * k}[unit]
        return pub - timedelta(days=max(days, 1)), pub
    rel = _RELATIVE.fullmatch(s)
    if rel:
        which, unit = rel.groups()
        if unit == "week":
            monday = pub - timedelta(days=pub.weekday())
            if which == "this":
                return monday, pub
            if which == "last":
                return monday - timedelta(days=7), monday - timedelta(days=1)
            return pub - timedelta(days=7), pub
        if unit == "month":
            if which == "this":
                return pub.replace(day=1), pub
            if which == "last":
                prev = pub.replace(day=1) - timedelta(days=1)
                return _month_range(prev.year, prev.month)
            return pub - timedelta(days=30), pub
        if unit == "year":
            offset = {"this": 0, "last": -1, "next": 1}.get(which)
            if offset is None:
                return pub - timedelta(days=365), pub
            if offset == 0:
                return date(pub.year, 1, 1), pub
            return date(pub.year + offset, 1, 1), date(pub.year + offset, 12, 31)
        if unit == "day":
            return pub - timedelta(days=1), pub
    wd = _ON_DAY.fullmatch(s)
    if wd:
        back = (pub.weekday() - WEEKDAYS.index(wd.group(1).lower())) % 7
        day = pub - timedelta(days=back)
        return day, day
    return None, None


# resolve is pure and its results are immutable (dates, None): the same few expressions ("last
# year", "on Monday", "in October") recur across the sentences and articles of a day, each
# costing several regex searches when resolved afresh.
_resolve_cached = lru_cache(maxsize=1024)(resolve)
