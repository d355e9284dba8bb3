"""The feed registry in the warehouse: the ``feed`` and ``source`` tables (issue 17).

Polling reads only these tables, so no worker needs a file of its own. Feed lists (feeds.yaml,
OPML) are import sources: ``mediamon feeds import`` reads one once and writes it here with
:func:`import_feeds`; ``feeds add`` and ``feeds remove`` change one feed; ``feeds export-opml``
writes :func:`registered_specs` back out.

A feed is *registered* while its row is ``enabled``. Removing a feed (or replacing the registry
with a list that lacks it) disables the row rather than deleting it: its polls and articles
refer to it, and adding it again brings back its health history.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.feeds import EntryError, FeedSpec, Registry, load_registry
from pipeline.warehouse import upsert
from pipeline.warehouse.engine import write_lock
from pipeline.warehouse.schema import feed, source
from pipeline.warehouse.upsert import chunks, rows_per_statement

log = logging.getLogger(__name__)

# Serialises registry writes (imports, adds, removals); on SQLite it opens the transaction with
# BEGIN IMMEDIATE, which the savepoints of the sync need (pysqlite begins lazily, and a first
# SAVEPOINT outside a transaction would commit on release).
REGISTRY_LOCK_KEY = int.from_bytes(b"mm:feeds", "big") & 0x7FFFFFFFFFFFFFFF

# What a poll run with an empty registry logs and records: the one step that fixes it.
NO_FEEDS_REGISTERED = "no feeds registered: run `mediamon feeds import FILE`"


def db_error(exc: BaseException) -> str:
    """The first line of a database error, without the statement and its parameters."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first}"[:500]


def _upsert_isolated(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> list[tuple[Mapping[str, Any], str]]:
    """Upsert ``rows`` chunk by chunk, each in a savepoint; a chunk the database refuses is
    retried row by row, so only the rows it refuses are left out. Returns (row, error) for them.

    ``conn`` must be in an explicit transaction (see REGISTRY_LOCK_KEY).
    """
    failed: list[tuple[Mapping[str, Any], str]] = []
    for chunk in chunks(rows, rows_per_statement(rows)):
        try:
            with conn.begin_nested():
                upsert(conn, table, chunk, key=key, update=update)
            continue
        except sa.exc.StatementError:
            pass
        for row in chunk:
            try:
                with conn.begin_nested():
                    upsert(conn, table, [row], key=key, update=update)
            except sa.exc.StatementError as exc:
                failed.append((row, db_error(exc)))
    return failed


def _removed_ids(conn: Connection, urls: set[str]) -> list[int]:
    """Ids of the removed (disabled) feeds among ``urls``."""
    removed = conn.execute(sa.select(feed.c.id, feed.c.url).where(feed.c.enabled.is_(False)))
    return [feed_id for feed_id, url in removed.tuples() if url in urls]


def _disable_unlisted(conn: Connection, listed: set[str], now: datetime) -> int:
    """Disable every registered feed whose URL is not in ``listed``; return how many."""
    # Computed here rather than with NOT IN (urls): that list grows with the registry and would
    # hit the bound-parameter limit; the ids to disable go out in bounded chunks.
    enabled = conn.execute(sa.select(feed.c.id, feed.c.url).where(feed.c.enabled.is_(True)))
    gone = [feed_id for feed_id, url in enabled.tuples() if url not in listed]
    for ids in chunks(gone):
        conn.execute(
            sa.update(feed)
            .where(feed.c.id.in_(ids))
            .values(enabled=False, status="disabled", updated_at=now)
        )
    return len(gone)


def sync_registry(
    conn: Connection,
    specs: list[FeedSpec],
    *,
    now: datetime,
    keep: Collection[str] = (),
    disable_unlisted: bool = True,
) -> dict[str, Any]:
    """Register ``specs`` in the feed and source tables (new feeds added, listed ones updated).

    With ``disable_unlisted`` the registry becomes exactly ``specs``: feeds not listed are
    disabled, except ``keep`` (URLs of entries the source refused this time, left as they were).
    An entry the database still refuses is skipped (``feeds_failed``) and the others are
    written: each chunk goes in a savepoint, so ``conn`` must be in an explicit transaction (take
    the registry lock first).
    """
    sources: dict[str, dict[str, Any]] = {}
    for s in specs:  # one row per source: the first feed listed gives its language
        sources.setdefault(
            s.source,
            {"name": s.source, "homepage": None, "language": s.language, "created_at": now},
        )
    failed = [
        str(row["name"])
        for row, _ in _upsert_isolated(conn, source, list(sources.values()), key=["name"])
    ]
    source_ids = dict(conn.execute(sa.select(source.c.name, source.c.id)).tuples().all())
    rows = [
        {
            "source_id": source_ids[s.source],
            "url": s.url,
            "language": s.language,
            "tags": list(s.tags),
            "interval_s": s.interval_s,
            "enabled": True,
            "status": "new",
            "failures": 0.0,
            "created_at": now,
            "updated_at": now,
        }
        for s in specs
        if s.source in source_ids
    ]
    revived = _removed_ids(conn, {s.url for s in specs})
    refused = _upsert_isolated(
        conn,
        feed,
        rows,
        key=["url"],
        update=["source_id", "language", "tags", "interval_s", "enabled", "updated_at"],
    )
    for ids in chunks(revived):
        # Removal overwrote the feed's health status; registered again, it starts afresh
        # (its polls, failures and schedule are kept).
        conn.execute(
            sa.update(feed).where(feed.c.id.in_(ids), feed.c.enabled.is_(True)).values(status="new")
        )
    errors = [f"source {name}: not stored" for name in failed]
    errors += [f"{row['url']}: {error}" for row, error in refused]
    for error in errors:
        log.warning("feed registry: %s", error)
    removed = 0
    if disable_unlisted:
        removed = _disable_unlisted(conn, {s.url for s in specs} | set(keep), now)
    return {
        "feeds_registered": len(rows) - len(refused),
        "feeds_removed": removed,
        **({"feeds_failed": errors[:20]} if errors else {}),
    }


def _registered_urls(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(feed.c.url).where(feed.c.enabled.is_(True))).scalars())


def registered_count(conn: Connection) -> int:
    """How many feeds are registered (enabled)."""
    query = sa.select(sa.func.count()).select_from(feed).where(feed.c.enabled.is_(True))
    return int(conn.execute(query).scalar_one())


def registered_specs(conn: Connection) -> list[FeedSpec]:
    """The registered feeds as specs, in the order they were first registered."""
    query = (
        sa.select(feed.c.url, source.c.name, feed.c.language, feed.c.tags, feed.c.interval_s)
        .join(source, source.c.id == feed.c.source_id)
        .where(feed.c.enabled.is_(True))
        .order_by(feed.c.id)
    )
    return [
        FeedSpec(url, name, language, tuple(tags or ()), interval_s)
        for url, name, language, tags, interval_s in conn.execute(query).tuples()
    ]


@dataclass(frozen=True)
class ImportCounts:
    """What an import did: feeds newly registered, feeds already registered (updated when
    replacing, untouched when merging), feeds disabled because the list lacks them, and the
    entries the database refused (``failed``, one line each)."""

    added: int
    listed: int
    removed: int = 0
    failed: list[str] = field(default_factory=list)


def import_feeds(
    engine: Engine,
    specs: list[FeedSpec],
    *,
    replace: bool = False,
    keep: Collection[str] = (),
    now: datetime | None = None,
) -> ImportCounts:
    """Write the feeds of an import source into the registry, in one transaction.

    Merging (the default) registers the feeds not registered yet and leaves every other feed as
    it is: importing a list never loses a feed. ``replace`` makes the registry exactly ``specs``:
    listed feeds are updated (source, language, tags, interval) and the others disabled, except
    ``keep`` (the URLs of entries the source refused, left as they were).
    """
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        write_lock(conn, REGISTRY_LOCK_KEY)
        known = _registered_urls(conn)
        added = [s for s in specs if s.url not in known]
        if replace:
            synced = sync_registry(conn, specs, now=now, keep=keep)
        else:
            synced = sync_registry(conn, added, now=now, disable_unlisted=False)
        # Counted from the table: a feed the database refused is not added.
        registered = _registered_urls(conn)
    return ImportCounts(
        added=sum(1 for s in added if s.url in registered),
        listed=len(specs) - len(added),
        removed=int(synced["feeds_removed"]),
        failed=list(synced.get("feeds_failed", [])),
    )


def add_feed(engine: Engine, spec: FeedSpec, *, now: datetime | None = None) -> int | None:
    """Register one feed; return how many feeds are registered now, or None (and change
    nothing) when it already is."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        write_lock(conn, REGISTRY_LOCK_KEY)
        if spec.url in _registered_urls(conn):
            return None
        synced = sync_registry(conn, [spec], now=now, disable_unlisted=False)
        if synced.get("feeds_failed"):
            raise EntryError(f"refused by the warehouse: {synced['feeds_failed'][0]}")
        return registered_count(conn)


def remove_feed(engine: Engine, url: str, *, now: datetime | None = None) -> int | None:
    """Disable one registered feed (its polls and articles stay); return how many feeds are
    registered now, or None when ``url`` is not registered."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        write_lock(conn, REGISTRY_LOCK_KEY)
        done = conn.execute(
            sa.update(feed)
            .where(feed.c.url == url, feed.c.enabled.is_(True))
            .values(enabled=False, status="disabled", updated_at=now)
        )
        if not done.rowcount:
            return None
        return registered_count(conn)


@dataclass(frozen=True)
class Seeded:
    """A one-shot import of a feeds file into an empty registry: what was read and written."""

    path: Path
    registry: Registry
    counts: ImportCounts


def seed_empty_registry(engine: Engine, path: Path) -> Seeded | None:
    """Import ``path`` when the registry has never held a feed (no feed row at all) and the
    file exists; otherwise do nothing and return None.

    The migration path from a registry kept in a file (``MEDIAMON_FEEDS_FILE``, read at every
    poll before issue 17) and the seed of a fresh compose stack. A registry emptied on purpose
    (every feed removed) still has its rows, so it is never seeded again. Raises
    :class:`pipeline.feeds.RegistryError` for a file that cannot be used at all.
    """
    with engine.connect() as conn:
        if conn.execute(sa.select(feed.c.id).limit(1)).first() is not None:
            return None
    if not path.is_file():
        return None
    registry = load_registry(path)
    keep = [r.url for r in registry.refused if r.url]
    return Seeded(path, registry, import_feeds(engine, registry.specs, keep=keep))
