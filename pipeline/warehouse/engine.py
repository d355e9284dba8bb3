"""The one engine factory. SQLite gets WAL and a busy timeout; PostgreSQL gets pool pre-ping."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SUPPORTED_DIALECTS = ("sqlite", "postgresql")


class WarehouseUrlError(ValueError):
    """The warehouse URL cannot be used as written (the message shows it with its password
    masked): a configuration mistake, not a database failure."""


class UnsupportedDialectError(WarehouseUrlError):
    """The warehouse URL names a database Mediamon does not run on."""

    def __init__(self, dialect: str) -> None:
        super().__init__(
            f"warehouse dialect {dialect!r} is not supported: use SQLite (sqlite:///path) "
            "or PostgreSQL (postgresql+psycopg://...)"
        )


# Under WAL, writers still serialise; a generous busy timeout makes a second writer wait for the
# lock instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    # NORMAL is durable under WAL except for the last commits on power loss; fine for a warehouse
    # that can be rebuilt from the raw archive.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` with our dialect settings applied (SQLite or PostgreSQL only).

    Raises :class:`WarehouseUrlError` for a URL that is not a database URL we can use.
    """
    try:
        dialect = sa.engine.make_url(url).get_backend_name()
    except sa.exc.ArgumentError as exc:
        from pipeline.config import mask_url

        # SQLAlchemy's own message quotes the URL, password and all.
        raise WarehouseUrlError(
            f"warehouse URL {mask_url(url)!r} is not a database URL: use sqlite:///path "
            "or postgresql+psycopg://user@host/db"
        ) from exc
    if dialect not in SUPPORTED_DIALECTS:
        raise UnsupportedDialectError(dialect)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url``, or for the warehouse URL in force when omitted."""
    if url is None:
        from pipeline.config import resolve_warehouse_url

        url = resolve_warehouse_url()
    return _cached_engine(url)


def write_lock(conn: Connection, key: int) -> None:
    """Take a stage's write lock for the rest of this transaction (must be its first statement):
    a PostgreSQL advisory transaction lock on ``key``; on SQLite ``BEGIN IMMEDIATE``, which takes
    the database write lock now, before the stage reads what it will write against (pysqlite
    begins transactions lazily as DEFERRED)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": key})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise UnsupportedDialectError(conn.dialect.name)
