"""Stage 1, poll: the feeds due (the registry lives in the warehouse), their new entries as
``discovered`` article rows, each poll and the feed's health recorded."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings, get_settings
from pipeline.feeds import (
    FeedState,
    PollResult,
    next_health,
    poll_feed,
)
from pipeline.http import SafeClient, host_key
from pipeline.registry import NO_FEEDS_REGISTERED, registered_count
from pipeline.registry import db_error as _db_error
from pipeline.stages.runs import (
    stage_run,
    utc_now,
)
from pipeline.urls import url_key
from pipeline.warehouse import get_engine, upsert
from pipeline.warehouse.schema import article, feed, feed_poll
from pipeline.warehouse.upsert import chunks

log = logging.getLogger(__name__)


def _record_poll(
    conn: Connection,
    *,
    run_id: str,
    feed_row: Any,
    result: PollResult,
    started: datetime,
    settings: Settings | None = None,
) -> int:
    """Write one poll: the feed_poll row, the feed's new health and schedule, new article rows."""
    settings = settings or get_settings()
    new = 0
    if result.entries:
        ids = [url_key(e.url) for e in result.entries]
        known: set[str] = set()
        for chunk in chunks(ids):
            known.update(
                conn.execute(sa.select(article.c.id).where(article.c.id.in_(chunk))).scalars()
            )
        rows = []
        seen: set[str] = set()
        for key, entry in zip(ids, result.entries, strict=True):
            if key in known or key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "id": key,
                    "url": entry.url,
                    "source_id": feed_row.source_id,
                    "feed_id": feed_row.id,
                    "guid": entry.guid,
                    "feed_title": entry.title,
                    "feed_summary": entry.summary,
                    "feed_published_at": entry.published,
                    "discovered_at": started,
                    "discovered_run_id": run_id,
                    "status": "discovered",
                    "attempts": 0,
                    "updated_at": started,
                }
            )
        # ON CONFLICT DO NOTHING: a concurrent poller that discovered the same URL wins cleanly.
        upsert(conn, article, rows, key=["id"])
        new = len(rows)
    warning = "; ".join(result.warnings)[:4000] or None
    poll_cols = [
        "started_at",
        "duration_ms",
        "status",
        "http_status",
        "bytes",
        "entries_seen",
        "entries_new",
        "error",
        "warning",
    ]
    upsert(
        conn,
        feed_poll,
        [
            {
                "feed_id": feed_row.id,
                "run_id": run_id,
                "started_at": started,
                "duration_ms": result.duration_ms,
                "status": result.status,
                "http_status": result.http_status,
                "bytes": result.bytes,
                "entries_seen": len(result.entries),
                "entries_new": new,
                "error": result.error,
                "warning": warning,
            }
        ],
        key=["run_id", "feed_id"],
        update=poll_cols,
    )
    health = next_health(
        previous_status=feed_row.status,
        failures=feed_row.failures,
        interval_s=feed_row.poll_interval_s,
        fixed_interval_s=feed_row.interval_s,
        result=result,
        entries_new=new,
        now=started,
        settings=settings,
    )
    values: dict[str, Any] = {
        "status": health.status,
        "failures": health.failures,
        "last_error": health.last_error,
        "poll_interval_s": health.poll_interval_s,
        "next_poll_at": health.next_poll_at,
        "updated_at": started,
    }
    if result.status != "deferred":  # a deferred poll sent nothing: keep what we knew
        values |= {
            "etag": result.etag,
            "last_modified": result.last_modified,
            "body_hash": result.body_hash,
            "last_polled_at": started,
        }
    if result.failure is None and result.status != "deferred":
        values["last_success_at"] = started
    if result.moved_to:
        values["poll_url"] = result.moved_to  # 301/308: poll the new home from now on
    conn.execute(sa.update(feed).where(feed.c.id == feed_row.id).values(**values))
    return new


def _interleave_hosts(rows: list[Any]) -> list[Any]:
    """Round-robin the feeds by host so the poll threads spread over hosts, not queue on one."""
    by_host: dict[str, list[Any]] = {}
    for row in rows:
        by_host.setdefault(host_key(row.poll_url or row.url), []).append(row)
    queues = list(by_host.values())
    out: list[Any] = []
    while queues:
        out += [q.pop(0) for q in queues]
        queues = [q for q in queues if q]
    return out


def _failed_poll(feed_row: Any, error: str, result: PollResult | None = None) -> PollResult:
    """A poll that failed on our side (it raised, or could not be written) as a hard failure:
    the feed is backed off like any failed poll and keeps its old validators, so the next poll
    fetches the body again instead of being told 304."""
    return PollResult(
        status="parse_error",
        http_status=result.http_status if result else None,
        etag=feed_row.etag,
        last_modified=feed_row.last_modified,
        body_hash=feed_row.body_hash,
        bytes=result.bytes if result else 0,
        duration_ms=result.duration_ms if result else 0,
        error=error,
        failure="hard",
    )


def _record_feed(
    engine: Engine,
    *,
    run_id: str,
    feed_row: Any,
    result: PollResult,
    started: datetime,
    settings: Settings,
) -> tuple[int, PollResult]:
    """Record one feed's poll in its own transaction; return (new articles, what was recorded).

    When that fails for a reason of the feed's own (a value the database refuses), the failure
    is recorded instead -- its feed_poll row with the error, the feed backed off -- and every
    other feed goes on. When even that cannot be written, the database is the problem and the
    error propagates (the stage fails).
    """
    try:
        with engine.begin() as conn:
            new = _record_poll(
                conn,
                run_id=run_id,
                feed_row=feed_row,
                result=result,
                started=started,
                settings=settings,
            )
        return new, result
    except Exception as exc:  # noqa: BLE001 - anything this feed trips must not stop the others
        log.warning("feed %s: poll not recorded: %s", feed_row.url, _db_error(exc))
        error = f"poll not recorded ({len(result.entries)} entries): {_db_error(exc)}"
        failed = _failed_poll(feed_row, error, result)
    with engine.begin() as conn:
        _record_poll(
            conn,
            run_id=run_id,
            feed_row=feed_row,
            result=failed,
            started=started,
            settings=settings,
        )
    return 0, failed


def _due_feeds(engine: Engine, now: datetime, poll_all: bool) -> tuple[int, list[Any]]:
    """(feeds registered, the registered feeds due now -- or all of them -- spread by host)."""
    query = sa.select(feed).where(feed.c.enabled.is_(True)).order_by(feed.c.id)
    if not poll_all:
        query = query.where(sa.or_(feed.c.next_poll_at.is_(None), feed.c.next_poll_at <= now))
    with engine.connect() as conn:
        registered = registered_count(conn)
        feeds = _interleave_hosts(list(conn.execute(query).all()))
    return registered, feeds


def poll_feeds(run_id: str, *, all_feeds: bool | None = None) -> dict[str, Any]:
    """Stage 1: poll the registered feeds that are due (or all), record polls and articles.

    The registry is the warehouse's ``feed`` table (``mediamon feeds import``, issue 17): no
    worker reads a file. With no feed registered the stage is a no-op that says so (log and
    counts). ``all_feeds`` (default: setting ``feed_poll_all``) ignores the adaptive schedule.
    Politeness is shared with every other worker through the warehouse ``host`` table. One feed
    never stops the others: a feed whose poll fails or cannot be recorded is recorded as failed
    and backed off.
    """
    settings = get_settings()
    engine = get_engine()
    poll_all = settings.feed_poll_all if all_feeds is None else all_feeds
    with stage_run(engine, run_id, "poll") as counts:
        registered, feeds = _due_feeds(engine, utc_now(), poll_all)
        counts["feeds_registered"] = registered
        if not registered:
            # Green, not red: an empty registry is a setup step still to do, not a failed run.
            log.warning(NO_FEEDS_REGISTERED)
            counts["note"] = NO_FEEDS_REGISTERED
        statuses: Counter[str] = Counter()
        new_total = 0
        with (
            SafeClient(settings, engine=engine) as client,
            ThreadPoolExecutor(max(settings.feed_poll_threads, 1)) as pool,
        ):

            def one(row: Any) -> tuple[Any, PollResult, datetime]:
                started = utc_now()
                state = FeedState(
                    row.poll_url or row.url, row.etag, row.last_modified, row.body_hash
                )
                try:
                    return row, poll_feed(state, client, now=started), started
                except Exception as exc:  # a bug that one feed trips must spare the others
                    log.exception("feed %s: poll failed", row.url)
                    error = f"poll failed: {type(exc).__name__}: {str(exc)[:300]}"
                    return row, _failed_poll(row, error), started

            for row, polled, started in pool.map(one, feeds):
                # One transaction per feed: a failure writing one feed cannot undo another's.
                new, result = _record_feed(
                    engine,
                    run_id=run_id,
                    feed_row=row,
                    result=polled,
                    started=started,
                    settings=settings,
                )
                new_total += new
                statuses[result.status] += 1
                if result.error:
                    log.warning("feed %s: %s: %s", row.url, result.status, result.error)
        counts.update(
            {
                "feeds_polled": len(feeds),
                "articles_new": new_total,
                "by_status": dict(statuses),
            }
        )
    return counts
