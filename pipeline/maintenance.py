"""Daily operations: retention of raw pages and dedupe bands, planner statistics, feed health.

Each public function is one task of ``dags/mediamon_maintenance.py`` and records itself in
``pipeline_run`` like a pipeline stage, so an operator reads what maintenance did (and when it
failed) next to the ingest runs. All of them are idempotent: a second run on the same day finds
nothing past retention and deletes nothing.

``now`` is the run's logical date when Airflow gives one, so a re-run of an old day prunes
what was past retention on that day, not more.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fsspec.implementations.local import LocalFileSystem

from pipeline.config import Settings, get_settings, mask_url, mask_urls_in_text
from pipeline.stages.runs import raw_archive, stage_run
from pipeline.warehouse import get_engine
from pipeline.warehouse.schema import article, feed, pipeline_run, source
from pipeline.warehouse.upsert import upsert

log = logging.getLogger(__name__)

# Feed statuses that mean the last poll worked.
HEALTHY_FEED_STATUSES = ("ok", "not_modified", "new")
# An enabled feed without a successful poll for this long is listed as stale in the digest:
# twice the longest adaptive interval (feed_max_interval, a day) with room for one bad day.
STALE_AFTER = timedelta(days=2)
# pipeline_run.stage is 40 characters; a failed task is recorded as "task:<task_id>".
_STAGE_CHARS = 40


def _when(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def prune_raw_archive(run_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Delete raw pages whose every article was fetched before ``raw_retention_days``.

    The article rows stay (text, claims, everything derived); their ``raw_key`` is cleared in
    the same pass, so nothing later tries to read a body that is gone (re-extraction skips
    them). A body still referenced by an article fetched within retention is kept.
    """
    settings = get_settings()
    engine = get_engine()
    archive = raw_archive(settings)
    cutoff = _when(now) - timedelta(days=settings.raw_retention_days)
    with stage_run(engine, run_id, "raw_retention") as counts:
        deleted = unlinked = 0
        last = ""
        while True:
            with engine.connect() as conn:
                keys = list(
                    conn.execute(
                        sa.select(article.c.raw_key)
                        .where(article.c.raw_key.is_not(None), article.c.raw_key > last)
                        .group_by(article.c.raw_key)
                        .having(sa.func.max(article.c.fetched_at) < cutoff)
                        .order_by(article.c.raw_key)
                        .limit(settings.batch_size)
                    ).scalars()
                )
            if not keys:
                break
            last = keys[-1]
            # Objects first, rows second: a crash in between leaves rows naming deleted bodies,
            # which the next run selects again and finishes (delete of a missing body is a no-op).
            for key in keys:
                archive.delete(key)
            deleted += len(keys)
            with engine.begin() as conn:
                done = conn.execute(
                    sa.update(article)
                    .where(article.c.raw_key.in_(keys), article.c.fetched_at < cutoff)
                    .values(raw_key=None)
                )
                unlinked += done.rowcount or 0
        counts.update(
            {
                "cutoff": cutoff.isoformat(),
                "objects_deleted": deleted,
                "articles_unlinked": unlinked,
                "archive": archive.display,
            }
        )
    return counts


def prune_dedupe_bands(run_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Delete LSH band rows past ``dedupe_retention_days`` (story bands past
    ``dedupe_story_band_days``), under the dedupe lock. Dedupe runs prune too; this keeps the
    index bounded when no articles arrive for a while."""
    from pipeline.dedupe import DedupeConfig, lock, prune_bands

    settings = get_settings()
    engine = get_engine()
    cfg = DedupeConfig.from_settings(settings)
    when = _when(now)
    with stage_run(engine, run_id, "band_retention") as counts:
        with engine.begin() as conn:
            lock(conn)
            pruned = prune_bands(conn, cfg, now=when)
        counts.update(
            {
                "bands_pruned": pruned,
                "near_cutoff": (when - cfg.retention).isoformat(),
                "story_cutoff": (when - cfg.story_band_keep).isoformat(),
            }
        )
    return counts


def analyze_warehouse(run_id: str, *, vacuum: bool | None = None) -> dict[str, Any]:
    """Refresh the planner's statistics: ``ANALYZE`` (PostgreSQL and SQLite), then on SQLite
    ``VACUUM`` when ``maintenance_vacuum`` (or ``vacuum``) says so. PostgreSQL's autovacuum
    reclaims space itself; the explicit ANALYZE matters after retention deleted many rows."""
    settings = get_settings()
    engine = get_engine()
    do_vacuum = settings.maintenance_vacuum if vacuum is None else vacuum
    with stage_run(engine, run_id, "analyze") as counts:
        started = time.monotonic()
        # VACUUM cannot run inside a transaction; ANALYZE may, but gains nothing from one.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
            vacuumed = engine.dialect.name == "sqlite" and do_vacuum
            if vacuumed:
                conn.exec_driver_sql("VACUUM")
        counts.update(
            {
                "dialect": engine.dialect.name,
                "vacuum": vacuumed,
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    return counts


def feed_health_digest(run_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """One digest of feed health, stored as the ``feed_health`` row of this run in
    ``pipeline_run`` (its counts): feeds by status, disabled and stale feeds, and the failing
    feeds worst first (at most ``feed_digest_limit``). Also returned."""
    settings = get_settings()
    engine = get_engine()
    when = _when(now)
    with stage_run(engine, run_id, "feed_health") as counts:
        counts.update(_digest(engine, settings, when))
    return counts


def _digest(engine: sa.Engine, settings: Settings, when: datetime) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                source.c.name.label("source"),
                feed.c.url,
                feed.c.enabled,
                feed.c.status,
                feed.c.failures,
                feed.c.last_error,
                feed.c.last_polled_at,
                feed.c.last_success_at,
            )
            .join(source, source.c.id == feed.c.source_id)
            .order_by(feed.c.failures.desc(), feed.c.url)
        ).all()
    by_status: Counter[str] = Counter(r.status for r in rows)
    stale_before = when - STALE_AFTER

    def stale(r: Any) -> bool:
        last = r.last_success_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        polled = r.enabled and r.last_polled_at is not None
        return bool(polled and (last is None or last < stale_before))

    failing = [r for r in rows if r.status not in HEALTHY_FEED_STATUSES or r.failures > 0]
    return {
        "as_of": when.isoformat(),
        "feeds": len(rows),
        "enabled": sum(1 for r in rows if r.enabled),
        "by_status": dict(sorted(by_status.items())),
        "disabled": sum(1 for r in rows if not r.enabled),
        "stale": sum(1 for r in rows if stale(r)),
        "failing": [
            {
                "source": r.source,
                "url": mask_url(r.url),
                "status": r.status,
                "failures": r.failures,
                "last_error": mask_urls_in_text(r.last_error or "")[:200] or None,
                "last_success_at": r.last_success_at.isoformat() if r.last_success_at else None,
            }
            for r in failing[: settings.feed_digest_limit]
        ],
    }


def record_task_failure(
    run_id: str,
    *,
    dag_id: str,
    task_id: str,
    try_number: int | None,
    error: BaseException | str | None,
    map_index: int | None = None,
) -> None:
    """Record a failed Airflow task in ``pipeline_run`` (stage ``task:<task_id>``, status
    ``failed``, the error's first line with passwords masked): the warehouse keeps the failure
    even when it happened outside any stage (a connection, a timeout, bad parameters).
    A retried task overwrites its own row, so the row says how its last try ended."""
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
    else:
        text = error or "failed (no exception given)"
    first = (text.strip().splitlines() or [""])[0]
    now = datetime.now(UTC)
    row = {
        "run_id": run_id,
        "stage": f"task:{task_id}"[:_STAGE_CHARS],
        "started_at": now,
        "finished_at": now,
        "status": "failed",
        "counts": {
            "dag_id": dag_id,
            "task_id": task_id,
            "try_number": try_number,
            "map_index": map_index,
        },
        "error": mask_urls_in_text(first)[:4000],
    }
    with get_engine().begin() as conn:
        upsert(
            conn,
            pipeline_run,
            [row],
            key=["run_id", "stage"],
            update=["started_at", "finished_at", "status", "counts", "error"],
        )


def prepare_archive(settings: Settings | None = None) -> str:
    """Create the raw archive's directory, or its bucket on an object store, if missing
    (``airflow-init`` runs it); return the archive's URL as it may be shown."""
    archive = raw_archive(settings)
    if isinstance(archive.fs, LocalFileSystem):
        archive.fs.makedirs(archive.base, exist_ok=True)
    else:
        bucket = archive.base.split("/", 1)[0]
        if not archive.fs.exists(bucket):
            archive.fs.mkdir(bucket)
    return archive.display


def main(argv: list[str]) -> int:
    """``python -m pipeline.maintenance prepare-archive``: create the raw archive's bucket."""
    if argv != ["prepare-archive"]:
        print("usage: python -m pipeline.maintenance prepare-archive", file=sys.stderr)
        return 2
    print(f"raw archive ready: {prepare_archive()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
