"""Date sanity shared by feed parsing and extraction.

Stdlib only: the extraction worker process imports it, and must start fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# News dated before the web, or more than a day after we saw it, is a parsing error or a bogus
# template value ("year 3000"); we store null rather than invent a date.
EARLIEST_SANE_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)


def sane_date(value: datetime | None, *, now: datetime) -> datetime | None:
    """``value`` if it lies in [1990, now + 1 day], else None: dates are never invented."""
    if value is None:
        return None
    return value if EARLIEST_SANE_DATE <= value <= now + FUTURE_TOLERANCE else None


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware datetime: SQLite hands back naive values, which we store in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
