"""Stage functions: what DAG tasks and the CLI call. One call per task body.

Each stage reads a batch of rows in one status from the warehouse, does its work, and writes its
results and the next status in ONE transaction per batch. A crash loses at most the batch in hand
and leaves no half-written one; a re-run picks up where the last committed batch ended. Stages
return small dicts of counts (they travel through XCom), never article bodies.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings, get_settings
from pipeline.extract import extract
from pipeline.feeds import FeedSpec, FeedState, PollResult, load_registry, poll_feed
from pipeline.fetch import Page, RawArchive, fetch_page
from pipeline.http import SafeClient
from pipeline.urls import url_key
from pipeline.warehouse import get_engine, upsert
from pipeline.warehouse.schema import article, feed, feed_poll, pipeline_run, source

log = logging.getLogger(__name__)

# Fetching is I/O bound; a handful of threads overlaps network waits without hurting a site
# (the per-host throttle still spaces requests to one host).
FETCH_THREADS = 8
# Failures that will not heal by waiting: retrying them only costs the site requests.
PERMANENT_FETCH_REASONS = frozenset({"http_404", "http_410", "http_401", "http_403", "blocked"})


def _now() -> datetime:
    return datetime.now(UTC)


def raw_archive(settings: Settings | None = None) -> RawArchive:
    """The raw archive configured for this installation (a directory under home by default)."""
    settings = settings or get_settings()
    return RawArchive(str((settings.home / "raw").resolve()))


@contextmanager
def _stage(engine: Engine, run_id: str, name: str) -> Iterator[dict[str, Any]]:
    """Record a stage in pipeline_run: started, then finished with its counts (or failed)."""
    started = _now()
    counts: dict[str, Any] = {}
    row: dict[str, Any] = {
        "run_id": run_id,
        "stage": name,
        "started_at": started,
        "finished_at": None,
        "status": "running",
        "counts": {},
        "error": None,
    }
    cols = ["started_at", "finished_at", "status", "counts", "error"]
    with engine.begin() as conn:
        upsert(conn, pipeline_run, [row], key=["run_id", "stage"], update=cols)
    try:
        yield counts
    except Exception as exc:
        with engine.begin() as conn:
            failed = row | {"finished_at": _now(), "status": "failed", "counts": counts}
            upsert(
                conn,
                pipeline_run,
                [failed | {"error": f"{type(exc).__name__}: {exc}"}],
                key=["run_id", "stage"],
                update=cols,
            )
        raise
    with engine.begin() as conn:
        done = row | {"finished_at": _now(), "status": "success", "counts": counts}
        upsert(conn, pipeline_run, [done], key=["run_id", "stage"], update=cols)
    log.info("stage %s of run %s: %s", name, run_id, counts)


# --- registry -------------------------------------------------------------------------------


def sync_registry(conn: Connection, specs: list[FeedSpec], *, now: datetime) -> dict[str, int]:
    """Make the feed and source tables match the registry; feeds no longer listed are disabled."""
    upsert(
        conn,
        source,
        [
            {
                "name": s.source,
                "homepage": None,
                "language": s.language,
                "created_at": now,
            }
            for s in specs
        ],
        key=["name"],
    )
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
    ]
    upsert(
        conn,
        feed,
        rows,
        key=["url"],
        update=["source_id", "language", "tags", "interval_s", "enabled", "updated_at"],
    )
    urls = [s.url for s in specs]
    removed = conn.execute(
        sa.update(feed)
        .where(feed.c.enabled.is_(True), feed.c.url.not_in(urls))
        .values(enabled=False, status="disabled", updated_at=now)
    ).rowcount
    return {"feeds_registered": len(specs), "feeds_removed": removed or 0}


# --- poll -----------------------------------------------------------------------------------


def _record_poll(
    conn: Connection,
    *,
    run_id: str,
    feed_row: Any,
    result: PollResult,
    started: datetime,
) -> int:
    """Write one poll: the feed_poll row, the feed's new state, and new article rows."""
    new = 0
    if result.entries:
        ids = [url_key(e.url) for e in result.entries]
        known = set(conn.execute(sa.select(article.c.id).where(article.c.id.in_(ids))).scalars())
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
        update=[
            "started_at",
            "duration_ms",
            "status",
            "http_status",
            "bytes",
            "entries_seen",
            "entries_new",
            "error",
            "warning",
        ],
    )
    failed = result.status not in ("ok", "not_modified")
    conn.execute(
        sa.update(feed)
        .where(feed.c.id == feed_row.id)
        .values(
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=result.body_hash,
            failures=feed.c.failures + 1 if failed else 0.0,
            last_error=result.error if failed else None,
            last_polled_at=started,
            updated_at=started,
        )
    )
    return new


def poll_feeds(run_id: str, *, base_url: str | None = None) -> dict[str, Any]:
    """Stage 1: sync the registry, poll every enabled feed once, record polls and new articles."""
    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "poll") as counts:
        now = _now()
        specs = load_registry(settings.feeds_file, base_url=base_url)
        with engine.begin() as conn:
            counts.update(sync_registry(conn, specs, now=now))
            feeds = conn.execute(
                sa.select(feed).where(feed.c.enabled.is_(True)).order_by(feed.c.id)
            ).all()
        statuses: Counter[str] = Counter()
        new_total = 0
        with SafeClient(settings) as client, ThreadPoolExecutor(FETCH_THREADS) as pool:

            def one(row: Any) -> tuple[Any, PollResult, datetime]:
                started = _now()
                state = FeedState(row.url, row.etag, row.last_modified, row.body_hash)
                return row, poll_feed(state, client, now=started), started

            for row, result, started in pool.map(one, feeds):
                # One transaction per feed: a failure writing one feed cannot undo another's.
                with engine.begin() as conn:
                    new_total += _record_poll(
                        conn,
                        run_id=run_id,
                        feed_row=row,
                        result=result,
                        started=started,
                    )
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


# --- fetch ----------------------------------------------------------------------------------


def _batches(
    engine: Engine,
    select_ids: Callable[[Connection, set[str]], list[str]],
) -> Iterator[list[str]]:
    """Yield batches of ids until the selector returns none not yet handed out in this call."""
    handed: set[str] = set()
    while True:
        with engine.connect() as conn:
            ids = [i for i in select_ids(conn, handed) if i not in handed]
        if not ids:
            return
        handed.update(ids)
        yield ids


def _retry_delay(settings: Settings, attempts: int) -> timedelta:
    seconds = min(settings.fetch_retry_base * 2 ** max(attempts - 1, 0), settings.fetch_retry_cap)
    return timedelta(seconds=seconds)


def fetch_articles(run_id: str) -> dict[str, Any]:
    """Stage 2: fetch discovered pages (and failed ones whose retry time has come)."""
    settings = get_settings()
    engine = get_engine()
    archive = raw_archive(settings)
    with _stage(engine, run_id, "fetch") as counts:
        now = _now()

        def due(conn: Connection, handed: set[str]) -> list[str]:
            retry = sa.and_(
                article.c.status == "fetch_failed",
                article.c.next_attempt_at.is_not(None),
                article.c.next_attempt_at <= now,
                article.c.attempts < settings.fetch_max_attempts,
            )
            query = (
                sa.select(article.c.id)
                .where(sa.or_(article.c.status == "discovered", retry))
                .order_by(article.c.discovered_at, article.c.id)
                .limit(settings.batch_size + len(handed))
            )
            return list(conn.execute(query).scalars())

        reasons: Counter[str] = Counter()
        fetched = 0
        with SafeClient(settings) as client, ThreadPoolExecutor(FETCH_THREADS) as pool:
            for ids in _batches(engine, due):
                with engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(article.c.id, article.c.url, article.c.attempts).where(
                            article.c.id.in_(ids)
                        )
                    ).all()
                pages = list(pool.map(lambda r: (r, fetch_page(r.url, client)), rows))
                with engine.begin() as conn:
                    for row, page in pages:
                        ok = _record_fetch(conn, row, page, archive, settings)
                        fetched += ok
                        if not ok:
                            reasons[page.reason or "unknown"] += 1
        counts.update(
            {
                "fetched": fetched,
                "failed": sum(reasons.values()),
                "reasons": dict(reasons),
            }
        )
    return counts


def _record_fetch(
    conn: Connection, row: Any, page: Page, archive: RawArchive, settings: Settings
) -> bool:
    attempts = row.attempts + 1
    base = {
        "attempts": attempts,
        "final_url": page.final_url,
        "http_status": page.status,
        "content_type": page.content_type,
        "fetched_at": page.fetched_at,
        "updated_at": page.fetched_at,
    }
    if page.reason is None:
        key = archive.put(page.body)
        values = base | {
            "status": "fetched",
            "raw_key": key,
            "failure_reason": None,
            "error": None,
            "next_attempt_at": None,
        }
    else:
        permanent = page.reason in PERMANENT_FETCH_REASONS
        give_up = permanent or attempts >= settings.fetch_max_attempts
        values = base | {
            "status": "fetch_failed",
            "failure_reason": page.reason,
            "error": page.error,
            # Null next_attempt_at = no more automatic retries; the row stays, visible.
            "next_attempt_at": None
            if give_up
            else page.fetched_at + _retry_delay(settings, attempts),
        }
    conn.execute(sa.update(article).where(article.c.id == row.id).values(**values))
    return page.reason is None


# --- extract --------------------------------------------------------------------------------


def extract_articles(run_id: str) -> dict[str, Any]:
    """Stage 3: extract text and metadata of fetched pages from the raw archive."""
    settings = get_settings()
    engine = get_engine()
    archive = raw_archive(settings)
    with _stage(engine, run_id, "extract") as counts:

        def fetched_ids(conn: Connection, handed: set[str]) -> list[str]:
            query = (
                sa.select(article.c.id)
                .where(article.c.status == "fetched")
                .order_by(article.c.id)
                .limit(settings.batch_size + len(handed))
            )
            return list(conn.execute(query).scalars())

        reasons: Counter[str] = Counter()
        extracted = 0
        for ids in _batches(engine, fetched_ids):
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(
                        article.c.id,
                        article.c.final_url,
                        article.c.raw_key,
                        article.c.content_type,
                        article.c.fetched_at,
                    ).where(article.c.id.in_(ids))
                ).all()
            updates: list[tuple[str, dict[str, Any]]] = []
            for row in rows:
                fetched_at = row.fetched_at
                if fetched_at.tzinfo is None:  # SQLite returns naive datetimes
                    fetched_at = fetched_at.replace(tzinfo=UTC)
                result = extract(
                    archive.get(row.raw_key),
                    url=row.final_url,
                    content_type=row.content_type or "",
                    fetched_at=fetched_at,
                    min_chars=settings.min_text_chars,
                )
                now = _now()
                if result.article is None:
                    reasons[result.reason or "unknown"] += 1
                    updates.append(
                        (
                            row.id,
                            {
                                "status": "extract_failed",
                                "failure_reason": result.reason,
                                "error": result.detail,
                                "extracted_at": now,
                                "updated_at": now,
                            },
                        )
                    )
                    continue
                art = result.article
                extracted += 1
                updates.append(
                    (
                        row.id,
                        {
                            "status": "extracted",
                            "failure_reason": None,
                            "error": "; ".join(result.warnings) or None,
                            "title": art.title,
                            "text": art.text,
                            "authors": art.authors,
                            "published_at": art.published_at,
                            "language": art.language,
                            "sitename": art.sitename,
                            "canonical_url": art.canonical_url,
                            "word_count": art.word_count,
                            "content_hash": art.content_hash,
                            "extractor_version": art.extractor_version,
                            "extracted_at": now,
                            "updated_at": now,
                        },
                    )
                )
            with engine.begin() as conn:
                for article_id, values in updates:
                    conn.execute(
                        sa.update(article).where(article.c.id == article_id).values(**values)
                    )
        counts.update(
            {
                "extracted": extracted,
                "failed": sum(reasons.values()),
                "reasons": dict(reasons),
            }
        )
    return counts


# --- summary --------------------------------------------------------------------------------


def warehouse_summary(engine: Engine | None = None) -> dict[str, Any]:
    """What the warehouse holds: feeds with their last poll, articles by status and reason."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        last_poll = (
            sa.select(feed_poll.c.feed_id, sa.func.max(feed_poll.c.id).label("poll_id"))
            .group_by(feed_poll.c.feed_id)
            .subquery()
        )
        feeds = (
            conn.execute(
                sa.select(
                    source.c.name.label("source"),
                    feed.c.url,
                    feed.c.enabled,
                    feed_poll.c.status,
                    feed_poll.c.http_status,
                    feed_poll.c.entries_seen,
                    feed_poll.c.entries_new,
                    feed_poll.c.error,
                    feed_poll.c.warning,
                )
                .select_from(feed)
                .join(source, source.c.id == feed.c.source_id)
                .outerjoin(last_poll, last_poll.c.feed_id == feed.c.id)
                .outerjoin(feed_poll, feed_poll.c.id == last_poll.c.poll_id)
                .order_by(source.c.name)
            )
            .mappings()
            .all()
        )
        by_status = dict(
            conn.execute(sa.select(article.c.status, sa.func.count()).group_by(article.c.status))
            .tuples()
            .all()
        )
        failures = (
            conn.execute(
                sa.select(article.c.status, article.c.failure_reason, sa.func.count())
                .where(article.c.failure_reason.is_not(None))
                .group_by(article.c.status, article.c.failure_reason)
                .order_by(article.c.status, article.c.failure_reason)
            )
            .tuples()
            .all()
        )
        empty_text = conn.execute(
            sa.select(sa.func.count())
            .select_from(article)
            .where(
                article.c.status == "extracted",
                sa.or_(article.c.text.is_(None), sa.func.length(article.c.text) == 0),
            )
        ).scalar_one()
        tables = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (source, feed, feed_poll, article, pipeline_run)
        }
    return {
        "feeds": [dict(f) for f in feeds],
        "articles_by_status": by_status,
        "failures": [{"status": s, "reason": r, "count": n} for s, r, n in failures],
        "extracted_with_empty_text": empty_text,
        "row_counts": tables,
    }


def finish_run(run_id: str, **stage_counts: Any) -> dict[str, Any]:
    """Stage 4: record the run's outcome (stage counts plus warehouse totals) and return it."""
    engine = get_engine()
    with _stage(engine, run_id, "finish") as counts:
        summary = warehouse_summary(engine)
        counts.update(
            {
                "stages": {k: v for k, v in stage_counts.items() if v is not None},
                "articles_by_status": summary["articles_by_status"],
            }
        )
    return counts


def run_ingest(run_id: str, *, base_url: str | None = None) -> dict[str, Any]:
    """The ingest stages in order, without Airflow (CLI ``mediamon run``)."""
    polled = poll_feeds(run_id, base_url=base_url)
    fetched = fetch_articles(run_id)
    extracted = extract_articles(run_id)
    return finish_run(run_id, poll=polled, fetch=fetched, extract=extracted)


__all__ = [
    "extract_articles",
    "fetch_articles",
    "finish_run",
    "poll_feeds",
    "raw_archive",
    "run_ingest",
    "sync_registry",
    "warehouse_summary",
]
