"""Server-side tables: every Media Monitor table is paginated, sortable and filterable in SQL.

A ``Listing`` names a row source (a view or a select), the columns a user may see and sort by,
and the filters a user may apply. ``fetch`` turns the request's query parameters into one
bounded query: the sort column and direction come from the listing's own whitelist, filter values
are bound parameters, and the page size is capped, so no request can ask the warehouse for an
unbounded or injected query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

ColumnKind = Literal["text", "time", "id", "number", "ratio", "bool", "url", "status", "long"]
FilterKind = Literal["text", "exact", "choice", "bool", "since", "until", "lookup"]

PER_PAGE = 50
MAX_PER_PAGE = 200
# Counting every row of a filtered view over millions of claims costs more than the page
# itself; past this many the page says "10,000+" and offers the pages it can reach.
COUNT_CAP = 10_000
# A lookup filter that matches up to this many keys is applied as a list of those keys.
LOOKUP_CAP = 10_000


@dataclass(frozen=True)
class Column:
    """A column shown in a table: its key in the row source, its header, how it is shown."""

    key: str
    label: str
    kind: ColumnKind = "text"
    sortable: bool = True


@dataclass(frozen=True)
class Filter:
    """A filter a user may apply: ``column`` of the row source compared by ``kind``.

    text: case-insensitive substring; exact: equality; choice: equality with a value from
    ``choices``; bool: true/false; since/until: a date bound (inclusive) on a time column;
    lookup: ``lookup`` is a query with a ``:value`` placeholder (the lower-cased substring
    pattern) returning integer keys of a small table, and ``column`` the indexed column holding
    them. The keys are found first and the listing is filtered by the list itself, so the
    planner sees how many rows they select: a rare measure is read through its index, not found
    by walking the whole ledger in date order (a subquery hides that from PostgreSQL's
    estimates). Over LOOKUP_CAP keys, the subquery is used (the rows are then common enough).
    """

    key: str
    label: str
    column: str
    kind: FilterKind = "text"
    choices: tuple[str, ...] = ()
    lookup: str = ""


@dataclass(frozen=True)
class Listing:
    """A table: its row source (a view name or a parenthesised select) and what users may do."""

    name: str
    source: str
    columns: tuple[Column, ...]
    default_sort: str
    default_desc: bool = True
    filters: tuple[Filter, ...] = ()
    # Tie-breaker so pages are stable when many rows share the sort value.
    key: str = "id"
    # Extra columns selected for links and tooltips but not shown as their own column.
    extra: tuple[str, ...] = ()
    # Conditions always applied (e.g. one feed's polls on the feed's page), with their params.
    where: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    # Whether to count the matching rows. Off for tables of millions of rows (the claim ledger):
    # the page then says whether there is a next one instead of how many pages there are.
    count: bool = True
    # Filters of which one must be applied to sort by any column but the default: a table of
    # millions of rows (the ledger) can only be sorted whole by an indexed column, while sorting
    # the claims of one measure or speaker by value is quick and what an analyst means.
    sort_filters: tuple[str, ...] = ()

    def column(self, key: str) -> Column | None:
        """The visible column called ``key``, if any."""
        return next((c for c in self.columns if c.key == key), None)

    def can_sort(self, key: str, applied: Mapping[str, str]) -> bool:
        """Whether the rows may be sorted by ``key`` with the filters ``applied``."""
        if key == self.default_sort:
            return True
        col = self.column(key)
        if col is None or not col.sortable:
            return False
        return not self.sort_filters or any(applied.get(f) for f in self.sort_filters)


@dataclass(frozen=True)
class Page:
    """One page of a listing, with what the user asked for (for links and the JSON twin)."""

    listing: Listing
    rows: list[dict[str, Any]]
    total: int | None
    total_capped: bool
    has_more: bool
    page: int
    per_page: int
    sort: str
    desc: bool
    filters: dict[str, str]

    @property
    def pages(self) -> int | None:
        """How many pages the (possibly capped) total spans; None when not counted."""
        if self.total is None:
            return None
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: rows plus paging, sorting and filtering state."""
        return {
            "table": self.listing.name,
            "rows": self.rows,
            "total": self.total,
            "total_capped": self.total_capped,
            "has_more": self.has_more,
            "page": self.page,
            "pages": self.pages,
            "per_page": self.per_page,
            "sort": self.sort,
            "order": "desc" if self.desc else "asc",
            "filters": self.filters,
            "filter_fields": [
                {"key": f.key, "label": f.label, "kind": f.kind, "choices": list(f.choices)}
                for f in self.listing.filters
            ],
            "columns": [
                {
                    "key": c.key,
                    "label": c.label,
                    "kind": c.kind,
                    "sortable": self.listing.can_sort(c.key, self.filters),
                }
                for c in self.listing.columns
            ],
            "sort_needs": list(self.listing.sort_filters),
        }


class ListingError(ValueError):
    """A request parameter that names no column, filter or value the listing allows."""


def _int(value: str | None, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ListingError(f"{name} must be a whole number, not {value!r}") from None


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ListingError(f"{name} must be a date like 2026-12-07, not {value!r}") from None


def _condition(f: Filter, value: str, params: dict[str, Any], conn: sa.Connection) -> str:
    """One bound SQL condition for filter ``f`` (column names come from the listing, not users)."""
    name = f"f_{f.key}"
    col = f.column
    naive = conn.dialect.name == "sqlite"
    if f.kind == "lookup":
        pattern = f"%{value.lower()}%"
        keys = conn.execute(
            sa.text(f"{f.lookup} limit {LOOKUP_CAP + 1}"), {"value": pattern}
        ).scalars().all()
        if len(keys) > LOOKUP_CAP:
            params[name] = pattern
            return f"{col} in ({f.lookup.replace(':value', f':{name}')})"
        # Integer keys read from the warehouse, not user text: safe to write into the query.
        return f"{col} in ({', '.join(str(int(k)) for k in keys)})" if keys else "1 = 0"
    if f.kind == "text":
        params[name] = f"%{value.lower()}%"
        return f"lower({col}) like :{name}"
    if f.kind == "exact":
        params[name] = value
        return f"{col} = :{name}"
    if f.kind == "choice":
        if value not in f.choices:
            raise ListingError(f"{f.key} must be one of {', '.join(f.choices)}, not {value!r}")
        params[name] = value
        return f"{col} = :{name}"
    if f.kind == "bool":
        if value not in ("true", "false"):
            raise ListingError(f"{f.key} must be true or false, not {value!r}")
        params[name] = value == "true"
        return f"{col} = :{name}"
    day = _date(value, f.key)
    if f.kind == "until":
        day += timedelta(days=1)
    # Dates are UTC days; SQLite keeps naive UTC text, PostgreSQL compares zoned times.
    bound = datetime.combine(day, datetime.min.time(), tzinfo=None if naive else UTC)
    params[name] = bound
    return f"{col} >= :{name}" if f.kind == "since" else f"{col} < :{name}"


def fetch(conn: sa.Connection, listing: Listing, query: Mapping[str, str]) -> Page:
    """The page of ``listing`` that ``query`` (the request's parameters) asks for.

    Parameters: ``page`` (from 1), ``per_page`` (capped at MAX_PER_PAGE), ``sort`` (a sortable
    column), ``order`` (asc/desc), and one parameter per filter key; empty values are ignored.
    Raises ListingError for a parameter the listing does not allow.
    """
    sort = query.get("sort") or listing.default_sort
    col = listing.column(sort)
    if sort != listing.default_sort and (col is None or not col.sortable):
        raise ListingError(f"cannot sort {listing.name} by {sort!r}")
    if not listing.can_sort(sort, {k: (query.get(k) or "").strip() for k in listing.sort_filters}):
        needs = " or ".join(listing.sort_filters)
        raise ListingError(
            f"sorting {listing.name} by {sort!r} needs a {needs} filter: the whole table is too"
            " big to sort by anything but its default order"
        )
    order = query.get("order") or ("desc" if listing.default_desc else "asc")
    if order not in ("asc", "desc"):
        raise ListingError(f"order must be asc or desc, not {order!r}")
    desc = order == "desc"
    per_page = min(max(_int(query.get("per_page"), PER_PAGE, "per_page"), 1), MAX_PER_PAGE)
    page = max(_int(query.get("page"), 1, "page"), 1)

    params: dict[str, Any] = dict(listing.params)
    conditions = list(listing.where)
    applied: dict[str, str] = {}
    for f in listing.filters:
        value = (query.get(f.key) or "").strip()
        if value:
            conditions.append(_condition(f, value, params, conn))
            applied[f.key] = value
    where = f" where {' and '.join(conditions)}" if conditions else ""
    source = f"{listing.source} as t"

    total: int | None = None
    total_capped = False
    if listing.count:
        capped = conn.execute(
            sa.text(
                f"select count(*) from (select 1 from {source}{where}"
                f" limit {COUNT_CAP + 1}) as c"
            ),
            params,
        ).scalar_one()
        total_capped = capped > COUNT_CAP
        total = min(capped, COUNT_CAP)
    # A plain "column direction" keeps an index on the sort column usable (an expression such
    # as "column is null" in front of it would not).
    direction = "desc" if desc else "asc"
    order_by = f"{sort} {direction}, {listing.key} {direction}"
    keys = [c.key for c in listing.columns]
    keys += [k for k in listing.extra if listing.column(k) is None]
    if listing.key not in keys:
        keys.append(listing.key)
    select = ", ".join(keys)
    # One row more than the page: whether a next page exists, without counting.
    params.update(limit=per_page + 1, offset=(page - 1) * per_page)
    fetched = conn.execute(
        sa.text(
            f"select {select} from {source}{where} order by {order_by} "
            "limit :limit offset :offset"
        ),
        params,
    ).mappings().all()
    has_more = len(fetched) > per_page
    rows = fetched[:per_page]
    return Page(
        listing=listing,
        rows=[{k: plain(v) for k, v in row.items()} for row in rows],
        total=total,
        total_capped=total_capped,
        has_more=has_more,
        page=page,
        per_page=per_page,
        sort=sort,
        desc=desc,
        filters=applied,
    )


# A time as SQLite returns it from a subquery or view: text, not a datetime.
_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)?")


def plain(value: Any) -> Any:
    """A JSON-ready value: times as ISO 8601 in UTC to the second, decimals as floats."""
    if isinstance(value, str) and _TIME_TEXT.fullmatch(value):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return as_utc(value).replace(microsecond=0).isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; the warehouse stores UTC, and SQLite hands it back without a zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
