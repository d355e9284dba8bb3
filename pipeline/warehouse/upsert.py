"""Idempotent writes: INSERT ... ON CONFLICT on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pipeline.warehouse.engine import UnsupportedDialectError

# Bound parameters one statement may carry: PostgreSQL's protocol allows 65,535, SQLite 32,766
# in stock builds since 3.32 (999 before; Debian's allows 250,000). Every write or lookup that
# takes a list of keys is cut into statements of at most this many, so no feed, batch or registry
# is too big to record (issue 19: a 65,536-entry feed stopped polling for every feed).
MAX_BIND_PARAMS = 10_000

_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = MAX_BIND_PARAMS) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of at most ``size`` (an IN list per statement)."""
    step = max(size, 1)
    for start in range(0, len(items), step):
        yield items[start : start + step]


def rows_per_statement(rows: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``rows`` one multi-row insert may carry under MAX_BIND_PARAMS."""
    return MAX_BIND_PARAMS // max(len(rows[0]), 1) if rows else 1


def _insert(conn: Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDialectError(name)


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows``; on conflict on ``key`` overwrite the ``update`` columns (or keep the row).

    All rows must carry the same keys. Running it twice with the same rows leaves the same state.
    Any number of rows: they go out in statements under the backend's parameter limit.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={col: stmt.excluded[col] for col in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    for chunk in chunks(rows, rows_per_statement(rows)):
        conn.execute(stmt, [dict(r) for r in chunk])
