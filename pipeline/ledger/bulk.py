"""Writing a ledger batch's many rows fast (issue 17).

One ledger batch writes tens of thousands of relations. Through SQLAlchemy's ``executemany``
every row is a statement of its own, and on PostgreSQL the client round trips cost more than the
insert itself: COPY into a temporary table and one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING`` writes the same rows in about half the time. SQLite is in-process, so the driver's
``executemany`` is the fast path there; what costs is SQLAlchemy preparing each row's parameters
one by one, so the rows go to the driver as tuples, converted column by column with the columns'
own bind processors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from pipeline.warehouse.upsert import upsert

# Below this many rows the temporary table costs more than it saves.
COPY_MIN_ROWS = 500


def insert_missing(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: Sequence[str],
) -> None:
    """Insert ``rows`` (values of ``columns``, in that order) except those whose ``key`` is
    already stored, in the caller's transaction: what :func:`upsert` without update columns
    writes, row for row.

    Plain column types only (numbers, text, dates): not JSON, which neither path here encodes.
    """
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        _sqlite_insert_missing(conn, table, columns, rows, key=key)
    elif conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        _postgresql_insert_missing(conn, table, columns, rows, key=key)
    else:
        upsert(conn, table, [dict(zip(columns, row, strict=True)) for row in rows], key=key)


def _postgresql_insert_missing(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: Sequence[str],
) -> None:
    names = ", ".join(columns)
    temp = f"ledger_new_{table.name}"
    # COPY is psycopg's API, not SQLAlchemy's; the driver connection is the one this
    # transaction runs on.
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur:
        # The columns' types only: no constraints, no defaults (the insert below fills those).
        cur.execute(
            f"create temporary table {temp} on commit drop as "
            f"select {names} from {table.name} with no data"
        )
        with cur.copy(f"copy {temp} ({names}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"insert into {table.name} ({names}) select {names} from {temp} "
            f"on conflict ({', '.join(key)}) do nothing"
        )
        cur.execute(f"drop table {temp}")


def _memoized(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A batch's rows share most values of a converted column (every created_at is one instant).
    done: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            done[value] = out = process(value)
            return out
        except TypeError:  # unhashable
            return process(value)

    return convert


def _sqlite_insert_missing(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: Sequence[str],
) -> None:
    compiled = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=list(key))
        .compile(dialect=conn.dialect, column_keys=list(columns))
    )
    # The compiled statement's placeholders, in the order the driver takes the values.
    position = {name: i for i, name in enumerate(columns)}
    order = [position[name] for name in compiled.positiontup or ()]
    if sorted(order) != list(range(len(columns))):
        upsert(conn, table, [dict(zip(columns, row, strict=True)) for row in rows], key=key)
        return
    by_column = list(zip(*rows, strict=True))
    converted = []
    for i in order:
        process = table.c[columns[i]].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        values = by_column[i]
        converted.append(values if process is None else list(map(_memoized(process), values)))
    conn.exec_driver_sql(str(compiled), list(zip(*converted, strict=True)))


__all__ = ["COPY_MIN_ROWS", "insert_missing"]
