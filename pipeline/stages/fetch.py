"""Stage 2, fetch: discovered pages (and failed ones whose retry time has come) fetched politely
into the raw archive, each outcome recorded on its row."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.config import Settings, get_settings
from pipeline.fetch import (
    ArchiveUnavailableError,
    Page,
    RawArchive,
    fetch_page,
)
from pipeline.http import SafeClient, host_key
from pipeline.stages.runs import (
    StageFailedError,
    leased_batches,
    open_archive,
    release_leases,
    stage_run,
    stage_timeout,
    unleased,
    utc_now,
)
from pipeline.warehouse import get_engine
from pipeline.warehouse.schema import article

log = logging.getLogger(__name__)


# Fetching is I/O bound; a handful of threads overlaps network waits without hurting a site
# (the per-host throttle still spaces requests to one host).
FETCH_THREADS = 8
# Failures that will not heal by waiting: retrying them only costs the site requests.
PERMANENT_FETCH_REASONS = frozenset(
    {
        "http_404",
        "http_410",
        "http_401",
        "http_403",
        "blocked",
        "bad_url",
        # Same bytes next time: the cap will cut them again.
        "too_large",
        # Not robots_disallowed: an unreachable robots.txt also reads as "disallow all"
        # (RFC 9309), and that heals when the host comes back.
    }
)

# Network failures that, when every page of several hosts fails with the same one, say that
# this worker cannot reach the internet rather than that the sites are down.
NETWORK_FETCH_REASONS = frozenset({"timeout", "connect_error"})
# ... and how many hosts must fail alike before the fetch stage calls it systemic: one or two
# hosts down at once is an ordinary day (each is a warning in its rows), three is not.
SYSTEMIC_MIN_HOSTS = 3


def _retry_delay(settings: Settings, attempts: int) -> timedelta:
    seconds = min(settings.fetch_retry_base * 2 ** max(attempts - 1, 0), settings.fetch_retry_cap)
    return timedelta(seconds=seconds)


def fetch_articles(run_id: str, *, worker: int | None = None, shards: int = 1) -> dict[str, Any]:
    """Stage 2: fetch discovered pages (and failed ones whose retry time has come).

    Every body goes to the raw archive before the row says ``fetched``; every failure is a row
    in ``fetch_failed`` with its reason and, unless it cannot heal, the time of the next try.
    Safe to run in several processes at once: each batch is leased (see :class:`Lease`), so no
    page is fetched twice. ``worker`` of ``shards``: this call is mapped fetch worker number
    ``worker`` of a DAG run and fetches only the pages of its shard of the outlets (source id
    modulo ``shards``), so one outlet's host is fetched by one task and the tasks do not queue
    behind each other on the shared per-host politeness schedule; it records its own stage row
    (``fetch#<worker>``).
    """
    settings = get_settings()
    engine = get_engine()
    if worker is not None and not 0 <= worker < shards:
        raise ValueError(f"fetch worker {worker} is not one of {shards} shards")
    with stage_run(engine, run_id, "fetch", worker=worker) as counts:
        archive = open_archive("fetch", settings)
        now = utc_now()
        # A failed row's next_attempt_at is its retry time, or the end of a run's lease on it.
        retry = sa.and_(
            article.c.status == "fetch_failed",
            article.c.next_attempt_at.is_not(None),
            article.c.next_attempt_at <= now,
            article.c.attempts < settings.fetch_max_attempts,
        )
        due = (
            sa.select(article.c.id)
            .where(sa.or_(sa.and_(article.c.status == "discovered", unleased(now)), retry))
            .order_by(article.c.discovered_at, article.c.id)
        )
        if worker is not None and shards > 1:
            due = due.where(article.c.source_id % shards == worker)
        reasons: Counter[str] = Counter()
        failed_hosts: dict[str, set[str]] = {}
        fetched = 0
        lost = 0
        with (
            SafeClient(settings, engine=engine) as client,
            ThreadPoolExecutor(FETCH_THREADS) as pool,
        ):
            for lease in leased_batches(
                engine, due, size=settings.batch_size, lease=stage_timeout("fetch")
            ):
                with engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(
                            article.c.id, article.c.url, article.c.attempts, article.c.status
                        ).where(article.c.id.in_(lease.ids))
                    ).all()
                pages = list(pool.map(lambda r: (r, fetch_page(r.url, client)), rows))
                # Counted once the batch commits: a batch rolled back counts for nothing.
                batch: Counter[str] = Counter()
                batch_fetched = batch_lost = 0
                try:
                    with engine.begin() as conn:
                        for row, page in pages:
                            if not _record_fetch(conn, row, page, archive, settings, lease.until):
                                batch_lost += 1
                            elif page.reason is None:
                                batch_fetched += 1
                            else:
                                batch[page.reason] += 1
                                failed_hosts.setdefault(page.reason, set()).add(host_key(row.url))
                except ArchiveUnavailableError as exc:
                    # Nothing of this batch was written: its pages are fetched again next run.
                    release_leases(engine, lease.ids, lease.until)
                    counts.update(_fetch_counts(fetched, lost, reasons))
                    raise StageFailedError("fetch", "archive_unavailable", str(exc)) from exc
                fetched += batch_fetched
                lost += batch_lost
                reasons.update(batch)
        counts.update(_fetch_counts(fetched, lost, reasons))
        _fail_if_unreachable_network(fetched, reasons, failed_hosts)
    return counts


def _fetch_counts(fetched: int, lost: int, reasons: Counter[str]) -> dict[str, Any]:
    return {
        "fetched": fetched,
        "failed": sum(reasons.values()),
        "reasons": dict(reasons),
        # Results not kept: the lease had lapsed and another run had taken the row.
        **({"lease_lost": lost} if lost else {}),
    }


def _fail_if_unreachable_network(
    fetched: int, reasons: Counter[str], hosts: Mapping[str, set[str]]
) -> None:
    """Raise :class:`StageFailedError` when no page was fetched and every page, of at least
    SYSTEMIC_MIN_HOSTS hosts, failed with one network error: the worker is cut off, which no
    single site's health would show. The failed rows are recorded and retried as usual."""
    if fetched or len(reasons) != 1:
        return
    ((reason, n),) = reasons.items()
    if reason in NETWORK_FETCH_REASONS and len(hosts.get(reason, ())) >= SYSTEMIC_MIN_HOSTS:
        raise StageFailedError(
            "fetch",
            reason,
            f"all {n} pages of {len(hosts[reason])} hosts failed with {reason}: "
            "can this worker reach the internet (proxy, DNS, firewall)?",
        )


def _record_fetch(
    conn: Connection,
    row: Any,
    page: Page,
    archive: RawArchive,
    settings: Settings,
    lease: datetime | None = None,
) -> bool:
    """Write one fetch outcome; the body is archived before the row points at it.

    Returns whether it was written: not when the row moved on meanwhile, or, with ``lease`` (the
    end of this run's lease on the row), when another run holds the row now.
    """
    # A deferral (the host asked for a pause longer than we wait in-task) is not the page's
    # failure: it does not use up one of the page's attempts.
    attempts = row.attempts + (0 if page.reason == "deferred" else 1)
    base = {
        "attempts": attempts,
        "final_url": page.final_url,
        "http_status": page.status,
        "content_type": page.content_type,
        "declared_charset": page.declared_charset,
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
        delay = _retry_delay(settings, attempts)
        if page.retry_after:
            delay = max(delay, timedelta(seconds=page.retry_after))
        values = base | {
            "status": "fetch_failed",
            "failure_reason": page.reason,
            "error": page.error,
            # Null next_attempt_at = no more automatic retries; the row stays, visible.
            "next_attempt_at": None if give_up else page.fetched_at + delay,
        }
    # Guarded by the status we read (and our lease), so a concurrent fetcher's result is never
    # overwritten.
    guard = [article.c.id == row.id, article.c.status == row.status]
    if lease is not None:
        guard.append(article.c.next_attempt_at == lease)
    written = conn.execute(sa.update(article).where(*guard).values(**values))
    if not written.rowcount:
        log.warning("fetch of %s not recorded: the row moved on or another run holds it", row.url)
    return bool(written.rowcount)
