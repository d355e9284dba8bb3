"""Stage functions: what DAG tasks and the CLI call. One call per task body.

Each stage reads a batch of rows in one status from the warehouse, does its work, and writes its
results and the next status in ONE transaction per batch. A crash loses at most the batch in hand
and leaves no half-written one; a re-run picks up where the last committed batch ended (fetch
and extract lease their batches, so concurrent runs never share one; a crashed run's batch is
taken again when its lease lapses). Stages return small dicts of counts (they travel through
XCom), never article bodies.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings, get_settings, mask_urls_in_text
from pipeline.dates import as_utc
from pipeline.extract import EXTRACTOR_VERSION, ExtractResult
from pipeline.extract_worker import ExtractionWorker, ExtractJob
from pipeline.feeds import (
    FeedState,
    PollResult,
    next_health,
    poll_feed,
)
from pipeline.fetch import (
    ArchiveMissingError,
    ArchiveUnavailableError,
    Page,
    RawArchive,
    fetch_page,
)
from pipeline.http import SafeClient, host_key
from pipeline.logs import log_stage_summary, quiet_library_loggers
from pipeline.registry import NO_FEEDS_REGISTERED, registered_count
from pipeline.registry import db_error as _db_error
from pipeline.urls import url_key
from pipeline.warehouse import get_engine, schema, upsert
from pipeline.warehouse.queries import articles_by_status, failures_by_reason
from pipeline.warehouse.schema import article, feed, feed_poll, pipeline_run, source
from pipeline.warehouse.upsert import chunks

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


def _now() -> datetime:
    return datetime.now(UTC)


# Network failures that, when every page of several hosts fails with the same one, say that
# this worker cannot reach the internet rather than that the sites are down.
NETWORK_FETCH_REASONS = frozenset({"timeout", "connect_error"})
# ... and how many hosts must fail alike before the fetch stage calls it systemic: one or two
# hosts down at once is an ordinary day (each is a warning in its rows), three is not.
SYSTEMIC_MIN_HOSTS = 3
# Extraction failures that say nothing about the page: its body could not be read from the raw
# archive (a worker looking at another store, a store briefly away) or the extraction worker
# died under it. `mediamon reextract` (and the mediamon_reextract DAG) takes these rows again
# whatever their extractor version; every other reason is the page's own and stays judged.
RETRYABLE_EXTRACT_REASONS = frozenset({"archive_missing", "extraction_error"})


class StageFailedError(RuntimeError):
    """A stage's whole batch failed for one systemic reason, not a page's or an article's own
    (the raw archive unreachable, or missing every body; every page failing alike): the task
    fails with ``reason`` rather than finish green having done nothing. Retrying at once cannot
    help; the rows it could not handle are left for the next run (or ``mediamon reextract``).
    """

    def __init__(self, stage: str, reason: str, message: str) -> None:
        self.stage = stage
        self.reason = reason
        super().__init__(f"{stage} stage failed ({reason}): {message}")


def raw_archive(settings: Settings | None = None) -> RawArchive:
    """The raw archive configured for this installation: ``raw_archive_url`` (a directory under
    home by default) with ``raw_archive_options``."""
    settings = settings or get_settings()
    return RawArchive(
        settings.raw_archive_root(), storage_options=settings.raw_archive_options
    )


def _open_archive(stage: str, settings: Settings) -> RawArchive:
    """The raw archive for ``stage``; a URL or options it cannot use fail the stage."""
    try:
        return raw_archive(settings)
    except ArchiveUnavailableError as exc:
        raise StageFailedError(stage, "archive_unavailable", str(exc)) from exc


def _release(engine: Engine, ids: Sequence[str], until: datetime) -> None:
    """Give back the rows of a lease (``until``) that this run could not finish: untouched, and
    due again at once, so the next run takes them."""
    now = _now()
    with engine.begin() as conn:
        for chunk in chunks(list(ids)):
            conn.execute(
                sa.update(article)
                .where(article.c.id.in_(chunk), article.c.next_attempt_at == until)
                .values(next_attempt_at=now)
            )


# What a pipeline_run row's status may be: "running" until the stage ends in "success" or
# "failed"; "abandoned" when a later stage found it still "running" with no process behind it.
# Defined with the pipeline_run table, whose CHECK constraint is built from it.
STAGE_STATUSES = schema.STAGE_STATUSES

# How long a stage may run: its DAG task's execution_timeout (dags/), past which Airflow kills
# the task. Claimed rows are leased for as long (no batch outlives the task that took it), and a
# stage row still "running" past it, by a process we cannot see, has no live process behind it.
# Never shorter than the DAG's (tests/test_flow.py checks): a live task would be called dead.
STAGE_TIMEOUTS: dict[str, timedelta] = {
    "poll": timedelta(minutes=30),
    "fetch": timedelta(hours=1),
    "extract": timedelta(hours=1),
    "dedupe": timedelta(hours=1),
    "analyse": timedelta(hours=1),
    "gate": timedelta(minutes=30),
    "ledger": timedelta(hours=1),
    "reextract": timedelta(hours=6),
}
# Stages whose task has no execution_timeout (finish) or that are not in a DAG.
DEFAULT_STAGE_TIMEOUT = timedelta(hours=6)


def stage_timeout(name: str) -> timedelta:
    """How long stage ``name`` may run before a row of it still "running" counts as dead (a
    mapped batch worker's row, ``extract#1``, as long as its stage)."""
    return STAGE_TIMEOUTS.get(_base_stage(name), DEFAULT_STAGE_TIMEOUT)


def _base_stage(name: str) -> str:
    """The stage a pipeline_run stage name belongs to: ``extract#1`` -> ``extract``."""
    return name.split(WORKER_MARK, 1)[0]


# Separates a stage's name from the number of the DAG's mapped batch worker that ran it: every
# mapped worker records its own pipeline_run row (extract, extract#1, extract#2...), so one
# worker's start, retry or failure never rewrites another's.
WORKER_MARK = "#"


def stage_row_name(name: str, worker: int | None = None) -> str:
    """The pipeline_run stage of stage ``name`` run by mapped batch worker ``worker``: the
    first worker (0) records the stage's own row, as an unmapped run does, so what reads a
    stage by its name (the gate, the Media Monitor, operators' queries) finds it."""
    return name if not worker else f"{name}{WORKER_MARK}{worker}"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux /proc), or None when there
    is no such process (or no /proc). With the pid it names one process: pids are reused."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # starttime is field 22; fields are counted after the command name, which may hold spaces
    # and parentheses, so split after its closing one (field 3 is then index 0).
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _this_process() -> dict[str, Any] | None:
    """Who runs a stage: host, boot, pid and start time, or None where /proc cannot tell. Read
    at each stage (not cached): a forked worker is another process."""
    pid = os.getpid()
    start = _process_start(pid)
    boot = _read("/proc/sys/kernel/random/boot_id")
    if start is None or boot is None:
        return None
    return {"host": socket.gethostname(), "boot": boot.strip(), "pid": pid, "start": start}


def _why_dead(row: Any, me: dict[str, Any] | None, now: datetime) -> str | None:
    """Why the "running" stage ``row`` cannot have a live process behind it, or None if it may.

    On this host (and boot) the answer is certain: its process exists or it does not, however
    long ago it started. Elsewhere we cannot look, so the stage's timeout decides.
    """
    counts = row.counts if isinstance(row.counts, dict) else {}
    proc = counts.get("process")
    if (
        me is not None
        and isinstance(proc, dict)
        and (proc.get("host"), proc.get("boot")) == (me["host"], me["boot"])
        and isinstance(proc.get("pid"), int)
    ):
        if _process_start(proc["pid"]) == proc.get("start"):
            return None
        return f"its process {proc['pid']} on {proc['host']} is gone"
    age = now - as_utc(row.started_at)
    limit = stage_timeout(row.stage)
    if age <= limit:
        return None
    where = f" on {proc.get('host')}" if isinstance(proc, dict) else ""
    return (
        f"still running{where} {str(age).split('.')[0]} after it started, "
        f"past the {row.stage} stage's timeout of {limit}"
    )


def _abandon_dead_stages(
    conn: Connection, run_id: str, name: str, now: datetime, me: dict[str, Any] | None
) -> int:
    """Mark every "running" pipeline_run row whose process is dead (see :func:`_why_dead`) as
    ``abandoned``, with when (finished_at) and why (error); return how many.

    A process killed mid-stage (kill -9, OOM, a lost worker) never writes its row's end, which
    would otherwise show as running forever. A stage that was wrongly given up on (no timeout
    outside Airflow) still records its own end when it finishes. ``me``: :func:`_this_process`.
    """
    rows = conn.execute(
        sa.select(
            pipeline_run.c.id,
            pipeline_run.c.run_id,
            pipeline_run.c.stage,
            pipeline_run.c.started_at,
            pipeline_run.c.counts,
        ).where(
            pipeline_run.c.status == "running",
            # Our own row is about to be rewritten as running anyway.
            sa.not_(sa.and_(pipeline_run.c.run_id == run_id, pipeline_run.c.stage == name)),
        )
    ).all()
    abandoned = 0
    for row in rows:
        why = _why_dead(row, me, now)
        if why is None:
            continue
        log.warning("stage %s of run %s abandoned: %s", row.stage, row.run_id, why)
        # Guarded by what we read: a row that ended or restarted meanwhile is left alone.
        done = conn.execute(
            sa.update(pipeline_run)
            .where(
                pipeline_run.c.id == row.id,
                pipeline_run.c.status == "running",
                pipeline_run.c.started_at == row.started_at,
            )
            .values(
                status="abandoned",
                finished_at=now,
                error=f"abandoned: {why} (found by stage {name} of run {run_id})"[:4000],
            )
        )
        abandoned += done.rowcount
    return abandoned


# The statuses in which a stage leases rows (see _leased_batches): what it takes and gives back.
LEASED_STATUSES: dict[str, tuple[str, ...]] = {
    "fetch": ("discovered", "fetch_failed"),
    "extract": ("fetched",),
    "analyse": ("deduped",),
}


def _release_earlier_try(conn: Connection, run_id: str, name: str, now: datetime) -> int:
    """Give back the leases an earlier, ended try of this run's stage still holds; return how many.

    Airflow starts a new try of a task only once the previous one failed or lost its heartbeat
    (a worker killed mid-batch): that try's row still says "running" or "failed", and the rows it
    had leased would wait out the lease (an hour) while the retry reports success without them.
    Its leases are the rows in the stage's input statuses whose lease ends between its start and
    now, each plus the lease length. Another live run's lease in that window is given back too:
    its results are then not kept (results are written only under an unchanged lease) and the
    rows are done again, which costs work, never correctness.
    """
    statuses = LEASED_STATUSES.get(_base_stage(name))
    if statuses is None:
        return 0
    earlier = conn.execute(
        sa.select(pipeline_run.c.started_at, pipeline_run.c.status).where(
            pipeline_run.c.run_id == run_id, pipeline_run.c.stage == name
        )
    ).first()
    if earlier is None or earlier.status == "success" or earlier.started_at is None:
        return 0
    lease = stage_timeout(name)
    earliest = earlier.started_at
    if earliest.tzinfo is None:
        earliest = earliest.replace(tzinfo=UTC)
    released = conn.execute(
        sa.update(article)
        .where(
            article.c.status.in_(statuses),
            article.c.next_attempt_at >= earliest + lease - LEASE_CLOCK_SLACK,
            article.c.next_attempt_at <= now + lease,
        )
        .values(next_attempt_at=now)
    ).rowcount
    if released:
        log.warning(
            "stage %s of run %s: an earlier try (%s) ended holding %d leases; given back",
            name, run_id, earlier.status, released,
        )
    return int(released or 0)


# Clocks of workers and database differ a little; a lease is never shorter than this less.
LEASE_CLOCK_SLACK = timedelta(minutes=1)


@contextmanager
def _stage(
    engine: Engine, run_id: str, name: str, *, worker: int | None = None
) -> Iterator[dict[str, Any]]:
    """Record a stage in pipeline_run: started, then finished with its counts (or failed).

    Starting a stage also marks as ``abandoned`` the stage rows of any run left "running" by a
    process that died. While running, the row's counts name the process (host, pid), so the next
    stage on that host knows at once whether it is still alive. ``worker``: the number of the
    DAG's mapped batch worker running it, which records its own row (see WORKER_MARK).
    """
    name = stage_row_name(name, worker)
    quiet_library_loggers()
    started = _now()
    counts: dict[str, Any] = {}
    me = _this_process()
    row: dict[str, Any] = {
        "run_id": run_id,
        "stage": name,
        "started_at": started,
        "finished_at": None,
        "status": "running",
        "counts": {"process": me} if me else {},
        "error": None,
    }
    cols = ["started_at", "finished_at", "status", "counts", "error"]
    with engine.begin() as conn:
        _abandon_dead_stages(conn, run_id, name, started, me)
        _release_earlier_try(conn, run_id, name, started)
        upsert(conn, pipeline_run, [row], key=["run_id", "stage"], update=cols)
    try:
        yield counts
    except Exception as exc:
        # Masked: a driver's or a store's error may quote a URL with its password.
        error = mask_urls_in_text(f"{type(exc).__name__}: {exc}")
        log.error("stage %s of run %s failed: %s", name, run_id, error)
        failed = row | {"finished_at": _now(), "status": "failed", "counts": counts}
        try:
            with engine.begin() as conn:
                upsert(
                    conn,
                    pipeline_run,
                    [failed | {"error": error[:4000]}],
                    key=["run_id", "stage"],
                    update=cols,
                )
        except sa.exc.SQLAlchemyError as record_exc:
            # The warehouse itself is the failure (unreachable): the task must fail with the
            # stage's own error, not with this one's.
            log.error("stage %s of run %s: failure not recorded: %s", name, run_id,
                      _db_error(record_exc))
        raise
    with engine.begin() as conn:
        done = row | {"finished_at": _now(), "status": "success", "counts": counts}
        upsert(conn, pipeline_run, [done], key=["run_id", "stage"], update=cols)
    log_stage_summary(engine, name, run_id, counts, logger=log)


# --- poll -----------------------------------------------------------------------------------


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
    with _stage(engine, run_id, "poll") as counts:
        registered, feeds = _due_feeds(engine, _now(), poll_all)
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
                started = _now()
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


# Leases (issue 19: two runs at once fetched the same pages). The fetch and extract stages take
# their work a batch at a time: one transaction selects due rows and moves their next_attempt_at
# to the end of a lease, so no other run finds them due until it lapses, and the batch's results
# clear it. A run that dies mid-batch leaves its lease to lapse; its rows are then taken again.
# The lease's end is also its token: results are written only where next_attempt_at still holds
# it, so a batch whose lease lapsed and was taken again cannot overwrite the new holder's work.
# A lease lasts the stage's timeout: no batch outlives the task that took it.


@dataclass(frozen=True)
class Lease:
    """A batch of article ids taken by this run, and the lease's end (its token)."""

    ids: list[str]
    until: datetime


def _unleased(now: datetime) -> sa.ColumnElement[bool]:
    """Rows no run holds a lease on at ``now`` (rows never leased have no next_attempt_at)."""
    return sa.or_(article.c.next_attempt_at.is_(None), article.c.next_attempt_at <= now)


def _leased_batches(
    engine: Engine, due: sa.Select[tuple[str]], *, size: int, lease: timedelta
) -> Iterator[Lease]:
    """Take batches of at most ``size`` ids of ``due`` (a select of article ids, in order), each
    leased for ``lease`` in the transaction that selects it, until none is left.

    Taking is serialised per row on PostgreSQL (FOR UPDATE SKIP LOCKED: a concurrent taker skips
    the rows being taken rather than waiting for them, then finds them leased) and per database
    on SQLite (BEGIN IMMEDIATE: the write lock before the read, so two takers cannot both read a
    row as due).
    """
    handed: set[str] = set()  # never hand out a row twice, even one whose result was not kept
    while True:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            query = due.limit(size + len(handed)).with_for_update(skip_locked=True)
            ids = [i for i in conn.execute(query).scalars() if i not in handed][:size]
            until = _now() + lease
            for chunk in chunks(ids):
                conn.execute(
                    sa.update(article).where(article.c.id.in_(chunk)).values(next_attempt_at=until)
                )
        if not ids:
            return
        handed.update(ids)
        yield Lease(ids, until)


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
    with _stage(engine, run_id, "fetch", worker=worker) as counts:
        archive = _open_archive("fetch", settings)
        now = _now()
        # A failed row's next_attempt_at is its retry time, or the end of a run's lease on it.
        retry = sa.and_(
            article.c.status == "fetch_failed",
            article.c.next_attempt_at.is_not(None),
            article.c.next_attempt_at <= now,
            article.c.attempts < settings.fetch_max_attempts,
        )
        due = (
            sa.select(article.c.id)
            .where(sa.or_(sa.and_(article.c.status == "discovered", _unleased(now)), retry))
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
            for lease in _leased_batches(
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
                    _release(engine, lease.ids, lease.until)
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
    (reason, n), = reasons.items()
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


# --- extract --------------------------------------------------------------------------------

# Statuses whose rows carry an extraction that re-extraction may replace.
REEXTRACT_STATUSES = (
    "extracted",
    "extract_failed",
    "deduped",
    "analysed",
    "published",
    "quarantined",
)
_EXTRACT_INPUT = (
    article.c.id,
    article.c.status,
    article.c.final_url,
    article.c.raw_key,
    article.c.content_type,
    article.c.declared_charset,
    article.c.fetched_at,
    article.c.content_hash,
)


def _extraction_values(result: ExtractResult, status: str, now: datetime) -> dict[str, Any]:
    """The article columns an extraction sets; every one of them, so no stale value survives."""
    art = result.article
    return {
        "status": status,
        "failure_reason": result.reason,
        "error": result.detail,
        "title": art.title if art else None,
        "text": art.text if art else None,
        "authors": art.authors if art else None,
        "published_at": art.published_at if art else None,
        "language": art.language if art else None,
        "sitename": art.sitename if art else None,
        "canonical_url": art.canonical_url if art else None,
        "word_count": art.word_count if art else None,
        "content_hash": art.content_hash if art else None,
        "paywall_suspected": bool(art and art.paywall_suspected),
        "charset": result.charset,
        "extract_warnings": list(result.warnings) or None,
        # Recorded on failures too: re-extraction then skips rows this version already judged.
        "extractor_version": EXTRACTOR_VERSION,
        "extracted_at": now,
        "updated_at": now,
    }


class ExtractRow(NamedTuple):
    """What extracting one article needs of its row (and what its next status depends on);
    plain values, so a batch of them travels to a worker process."""

    id: str
    status: str
    final_url: str
    raw_key: str
    content_type: str | None
    declared_charset: str | None
    fetched_at: datetime
    content_hash: str | None


def _extract_rows(engine: Engine, ids: Sequence[str]) -> list[ExtractRow]:
    """The rows of a batch to extract, in id order."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*_EXTRACT_INPUT).where(article.c.id.in_(list(ids))).order_by(article.c.id)
        ).all()
    return [ExtractRow(*row) for row in rows]


@dataclass
class ExtractOutcome:
    """A batch's extraction: a result per article read, and why the others were not read."""

    results: dict[str, ExtractResult]
    # The raw archive could not be read at all (its message); rows without a result were not
    # read and must be left untouched.
    unavailable: str | None = None
    # Times the extraction process was replaced (a page past the time limit, a crash).
    restarts: int = 0


class ExtractCompute:
    """A process's extraction state: the raw archive and one killable extraction worker,
    kept for every batch (see :mod:`pipeline.batch_pool`). Reads no warehouse."""

    def __init__(
        self,
        settings: Settings,
        archive: RawArchive | None = None,
        worker: ExtractionWorker | None = None,
    ) -> None:
        self.archive = archive or raw_archive(settings)
        self._own_worker = worker is None
        self.worker = worker or ExtractionWorker.from_settings(settings)

    def __call__(self, rows: Sequence[ExtractRow]) -> ExtractOutcome:
        """Extract a batch; pages whose body is not in the archive are ``archive_missing``."""
        outcome = ExtractOutcome({})
        queued: deque[str] = deque()  # ids of the jobs handed to the worker, in order
        restarts = self.worker.restarts

        def jobs() -> Iterator[ExtractJob]:
            # Bodies are read while the worker extracts the pages queued before them.
            for row in rows:
                try:
                    body = self.archive.get(row.raw_key)
                except ArchiveMissingError as exc:
                    outcome.results[row.id] = ExtractResult(None, "archive_missing", str(exc))
                    continue
                except ArchiveUnavailableError as exc:
                    outcome.unavailable = str(exc)
                    return
                queued.append(row.id)
                yield ExtractJob(
                    body=body,
                    url=row.final_url,
                    content_type=row.content_type or "",
                    fetched_at=as_utc(row.fetched_at),
                    declared_charset=row.declared_charset,
                )

        for result in self.worker.extract_many(jobs()):
            outcome.results[queued.popleft()] = result
        # Between batches, so trafilatura's caches cannot grow over a long run.
        self.worker.end_batch()
        outcome.restarts = self.worker.restarts - restarts
        return outcome

    def close(self) -> None:
        """Stop the extraction process, unless the caller lent it."""
        if self._own_worker:
            self.worker.close()


def _write_extractions(
    engine: Engine,
    rows: Sequence[ExtractRow],
    outcome: ExtractOutcome,
    next_status: Callable[[Any, ExtractResult], str],
    reasons: Counter[str],
    lease: datetime | None = None,
) -> int:
    """Write a batch's extractions in one transaction; return # ok.

    With ``lease`` (the end of this run's lease on the batch) only rows this run still holds are
    written, and their lease is cleared; a result not written is not counted.

    When the archive could not be read (``outcome.unavailable``), the pages read before are
    written, the others are left untouched (their lease given back) and
    :class:`StageFailedError` is raised: an unreachable store is no article's failure.
    """
    results = outcome.results
    updates: list[tuple[Any, dict[str, Any]]] = []
    for row in rows:
        if row.id not in results:  # not read: the archive became unavailable first
            continue
        values = _extraction_values(results[row.id], next_status(row, results[row.id]), _now())
        if lease is not None:
            values["next_attempt_at"] = None
        updates.append((row, values))
    ok = 0
    with engine.begin() as conn:
        for row, values in updates:
            guard = [article.c.id == row.id, article.c.status == row.status]
            if lease is not None:
                guard.append(article.c.next_attempt_at == lease)
            if not conn.execute(sa.update(article).where(*guard).values(**values)).rowcount:
                log.warning("extraction of %s not recorded: the row moved on", row.id)
                continue
            result = results[row.id]
            if result.ok:
                ok += 1
            else:
                reasons[result.reason or "unknown"] += 1
    if outcome.unavailable is not None:
        if lease is not None:
            _release(engine, [row.id for row in rows if row.id not in results], lease)
        raise StageFailedError("extract", "archive_unavailable", outcome.unavailable)
    return ok


def _extract_batch(
    engine: Engine,
    ids: list[str],
    worker: ExtractionWorker,
    archive: RawArchive,
    next_status: Callable[[Any, ExtractResult], str],
    reasons: Counter[str],
    lease: datetime | None = None,
) -> int:
    """Extract one batch in this process and write it in one transaction; return # ok (see
    :func:`_write_extractions`)."""
    rows = _extract_rows(engine, ids)
    outcome = ExtractCompute(get_settings(), archive, worker)(rows)
    return _write_extractions(engine, rows, outcome, next_status, reasons, lease)


def _fail_if_archive_lost(
    stage: str, extracted: int, reasons: Counter[str], archive: RawArchive
) -> None:
    """Raise :class:`StageFailedError` when no article was extracted and every failure was a
    missing archive body: the store this worker reads is not the one the fetcher wrote to (or
    was emptied), which no single article's failure would show. The rows are recorded as
    ``archive_missing``, a retryable reason: ``mediamon reextract`` takes them again."""
    if extracted or not reasons or set(reasons) != {"archive_missing"}:
        return
    raise StageFailedError(
        stage,
        "archive_missing",
        f"none of the {reasons['archive_missing']} article bodies is in the raw archive at "
        f"{archive.display}: do every fetch and extract worker share one "
        "MEDIAMON_RAW_ARCHIVE_URL? Then run `mediamon reextract`",
    )


def _extracted_status(row: Any, result: ExtractResult) -> str:
    return "extracted" if result.ok else "extract_failed"


# Below this many articles due, a stage works in its own process: starting a pool (a Python
# and, for analyse, a spaCy model per process: seconds) would cost more than it saves.
MIN_POOL_ARTICLES = 25


def _plan(
    engine: Engine, due: sa.Select[tuple[str]], settings: Settings, worker: int | None
) -> tuple[int, int]:
    """(worker processes, batch size) for a stage's ``due`` articles.

    None besides this one for a DAG's mapped batch worker (Airflow runs several of them: they
    are the parallelism) or for a handful of articles; else the ``processes`` setting, with
    batches cut so that every process gets at least two (200 articles in batches of 200 would
    keep one process busy and the others idle). Smaller batches change nothing written: batches
    are consecutive runs of ids, written in order.
    """
    from pipeline.batch_pool import AHEAD_PER_WORKER, pool_size

    size = 1 if worker is not None else pool_size(settings)
    if size == 1:
        return 1, settings.batch_size
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(sa.func.count()).select_from(due.order_by(None).subquery())
        ).scalar_one()
    if pending < MIN_POOL_ARTICLES:
        return 1, settings.batch_size
    share = -(-pending // (size * AHEAD_PER_WORKER))  # ceil
    return size, max(1, min(settings.batch_size, max(share, MIN_POOL_ARTICLES)))


def _pooled_batches(
    engine: Engine,
    stage: str,
    status: str,
    settings: Settings,
    worker: int | None,
    counts: dict[str, Any],
    read: Callable[[Engine, Sequence[str]], Any],
    compute: Any,
) -> Any:
    """The batches of articles in ``status`` a stage works on, as (lease, rows, result):
    leased under the one lease rule, ``read`` here, computed by ``compute`` in the stage's
    worker processes (:func:`_plan`), handed back in the order they were taken; batches not
    written are given back. The caller writes each and closes the generator."""
    from pipeline.batch_pool import ordered_map

    due = (
        sa.select(article.c.id)
        .where(article.c.status == status, _unleased(_now()))
        .order_by(article.c.id)
    )
    processes, batch_size = _plan(engine, due, settings, worker)
    counts["processes"] = processes
    leases = _leased_batches(engine, due, size=batch_size, lease=stage_timeout(stage))
    return ordered_map(
        leases,
        lambda lease: read(engine, lease.ids),
        compute,
        (settings,),
        size=processes,
        abandon=lambda lease: _release(engine, lease.ids, lease.until),
    )


def extract_articles(run_id: str, *, worker: int | None = None) -> dict[str, Any]:
    """Stage 3: extract text and metadata of fetched pages from the raw archive.

    Batches are extracted by ``processes`` worker processes and written here, one transaction
    each, in the order they were taken (:func:`pipeline.batch_pool.ordered_map`). Safe to run
    in several processes at once: each batch is leased (see :class:`Lease`). ``worker``: this
    call is mapped batch worker number ``worker`` of a DAG run; it records its own stage row
    (``extract#<worker>``; worker 0 the plain ``extract``) and extracts in this process.
    """
    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "extract", worker=worker) as counts:
        archive = _open_archive("extract", settings)
        reasons: Counter[str] = Counter()
        extracted = 0
        restarts = 0

        def tally() -> dict[str, Any]:
            return {
                "extracted": extracted,
                "failed": sum(reasons.values()),
                "reasons": dict(reasons),
                "worker_restarts": restarts,
            }

        batches = _pooled_batches(
            engine, "extract", "fetched", settings, worker, counts, _extract_rows, ExtractCompute
        )
        try:
            with closing(batches):
                for lease, rows, outcome in batches:
                    restarts += outcome.restarts
                    extracted += _write_extractions(
                        engine, rows, outcome, _extracted_status, reasons, lease.until
                    )
        finally:
            # Recorded with the stage row even when it fails.
            counts.update(tally())
        _fail_if_archive_lost("extract", extracted, reasons, archive)
    return counts


def reextract(
    run_id: str,
    *,
    since: datetime | None = None,
    source_name: str | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Re-run extraction from the raw archive (no refetch) on rows of another extractor version.

    Rows are updated in place; a second run finds nothing stale and changes nothing. A row that
    had moved past ``extracted`` keeps its status when its text is unchanged, and goes back to
    ``extracted`` (so dedupe and NLP redo it) when the text changed. ``since`` and ``until``
    (exclusive) filter on the fetch time, ``source_name`` on the outlet.
    """
    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "reextract") as counts:
        archive = _open_archive("reextract", settings)
        stale = sa.or_(
            article.c.extractor_version.is_(None),
            article.c.extractor_version != EXTRACTOR_VERSION,
            # Failures that said nothing about the page are tried again whatever the version.
            sa.and_(
                article.c.status == "extract_failed",
                article.c.failure_reason.in_(sorted(RETRYABLE_EXTRACT_REASONS)),
            ),
        )
        conditions = [
            article.c.raw_key.is_not(None),
            article.c.status.in_(REEXTRACT_STATUSES),
            stale,
        ]
        if since is not None:
            conditions.append(article.c.fetched_at >= since)
        if until is not None:
            conditions.append(article.c.fetched_at < until)
        if source_name is not None:
            ids_of_source = sa.select(source.c.id).where(source.c.name == source_name)
            conditions.append(article.c.source_id.in_(ids_of_source.scalar_subquery()))

        def stale_ids(conn: Connection, handed: set[str]) -> list[str]:
            query = (
                sa.select(article.c.id)
                .where(*conditions)
                .order_by(article.c.id)
                .limit(settings.batch_size + len(handed))
            )
            return list(conn.execute(query).scalars())

        statuses: Counter[str] = Counter()

        def next_status(row: Any, result: ExtractResult) -> str:
            if not result.ok or result.article is None:
                status = "extract_failed"
            elif row.status in ("extracted", "extract_failed"):
                status = "extracted"
            elif result.article.content_hash == row.content_hash:
                status = row.status  # same text: downstream results still hold
            else:
                status = "extracted"
            statuses[f"{row.status}->{status}"] += 1
            return status

        reasons: Counter[str] = Counter()
        ok = 0
        with ExtractionWorker.from_settings(settings) as worker:
            try:
                for ids in _batches(engine, stale_ids):
                    ok += _extract_batch(engine, ids, worker, archive, next_status, reasons)
            finally:
                counts.update(
                    {
                        "reextracted": ok + sum(reasons.values()),
                        "extracted": ok,
                        "failed": sum(reasons.values()),
                        "reasons": dict(reasons),
                        "transitions": dict(statuses),
                        "extractor_version": EXTRACTOR_VERSION,
                    }
                )
        _fail_if_archive_lost("reextract", ok, reasons, archive)
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
        by_status = articles_by_status(conn)
        failures = failures_by_reason(conn)
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


def combine_counts(parts: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The counts of a stage run by several mapped batch workers, as one stage's: numbers
    summed, nested counts (``reasons``) combined alike, other values kept from the first part
    that has them; ``workers`` says how many parts there were."""
    out: dict[str, Any] = {}
    n = 0
    for part in parts:
        n += 1
        for key, value in (part or {}).items():
            if key == "process":
                continue
            if isinstance(value, bool) or key not in out:
                out.setdefault(key, value)
            elif isinstance(value, int | float) and isinstance(out[key], int | float):
                out[key] += value
            elif isinstance(value, Mapping) and isinstance(out[key], Mapping):
                out[key] = combine_counts([out[key], value])
                out[key].pop("workers", None)
    out["workers"] = n
    return out


def _stage_counts(value: Any) -> Any:
    """One stage's counts as finish_run records them: a mapped stage's counts (a sequence of
    dicts, which Airflow passes as a lazy sequence of XComs) combined into one dict."""
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return combine_counts(value)
    return value


def finish_run(run_id: str, **stage_counts: Any) -> dict[str, Any]:
    """Last stage: record the run's outcome (stage counts plus warehouse totals), return it.

    A stage run by the DAG's mapped batch workers comes as the sequence of their counts, which
    are combined (:func:`combine_counts`)."""
    engine = get_engine()
    with _stage(engine, run_id, "finish") as counts:
        summary = warehouse_summary(engine)
        counts.update(
            {
                "stages": {
                    k: _stage_counts(v) for k, v in stage_counts.items() if v is not None
                },
                "articles_by_status": summary["articles_by_status"],
            }
        )
    return counts


# What run_ingest reports as each stage ends: its name, its counts and the seconds it took.
StageProgress = Callable[[str, dict[str, Any], float], None]


def run_ingest(run_id: str, *, progress: StageProgress | None = None) -> dict[str, Any]:
    """All ingest stages in DAG order, without Airflow (CLI ``mediamon run``): poll, fetch,
    extract, dedupe, analyse, gate, finish, then the ledger. ``progress`` is called as each
    stage finishes (the CLI shows it on a terminal)."""

    def timed(name: str, stage: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.monotonic()
        counts = stage()
        if progress is not None:
            progress(name, counts, time.monotonic() - started)
        return counts

    stages: dict[str, Any] = {"poll": timed("poll", lambda: poll_feeds(run_id))}
    stages["fetch"] = timed("fetch", lambda: fetch_articles(run_id))
    stages["extract"] = timed("extract", lambda: extract_articles(run_id))
    stages["dedupe"] = timed("dedupe", lambda: dedupe_articles(run_id))
    stages["analyse"] = timed("analyse", lambda: analyse_articles(run_id))
    stages["gate"] = timed("gate", lambda: gate_articles(run_id))
    done = timed("finish", lambda: finish_run(run_id, **stages))
    # The ledger is its own DAG under Airflow (scheduled on the published-articles asset).
    done["ledger"] = timed("ledger", lambda: link_claims(run_id))
    return done


__all__ = [
    "extract_articles",
    "fetch_articles",
    "finish_run",
    "link_claims",
    "poll_feeds",
    "raw_archive",
    "reextract",
    "run_ingest",
    "warehouse_summary",
]


# --- quality gate ---------------------------------------------------------------------------


def gate_articles(run_id: str) -> dict[str, Any]:
    """Stage: the quality gate (issue 7): analysed -> published or quarantined, batch by batch.

    Raises ``pipeline.quality.gate.BatchRejectedError`` when a batch-level expectation fails
    (nothing from the batch is published); the task should fail on it, not retry it away.
    """
    from pipeline.quality.gate import run_gate  # GX import costs seconds; only when gating

    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "gate") as counts:
        counts.update(run_gate(engine, run_id, settings).as_dict())
    return counts


# --- dedupe ---------------------------------------------------------------------------------


def dedupe_articles(run_id: str) -> dict[str, Any]:
    """Stage (issue 5): extracted -> deduped, with stories and provenance, batch by batch.

    Safe to run in several workers at once: each batch takes the dedupe lock in its transaction.
    """
    from pipeline.dedupe import DedupeConfig, run_dedupe

    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "dedupe") as counts:
        result = run_dedupe(
            engine, DedupeConfig.from_settings(settings), batch_size=settings.batch_size
        )
        counts.update(result.as_dict())
    return counts


# --- analyse (claims, issue 6) --------------------------------------------------------------


def analyse_articles(run_id: str, *, worker: int | None = None) -> dict[str, Any]:
    """Stage (issue 6): deduped -> analysed, with entities and claims, one transaction per batch.

    Batches are taken under the same lease rule as fetch and extract (concurrent runs and the
    DAG's mapped workers never analyse the same article), analysed by ``processes`` worker
    processes (each loads spaCy once) and written here in the order they were taken. Re-analysing
    an article replaces its claim and entity rows, so retries are safe. ``worker``: as in
    :func:`extract_articles`.
    """
    from pipeline.nlp.stage import (  # spaCy loads only when this stage runs
        AnalyseCompute,
        analysis_rows,
        write_analyses,
    )

    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "analyse", worker=worker) as counts:
        total: Counter[str] = Counter()
        batches = _pooled_batches(
            engine, "analyse", "deduped", settings, worker, counts, analysis_rows, AnalyseCompute
        )
        with closing(batches):
            for lease, rows, results in batches:
                total.update(write_analyses(engine, rows, results, lease=lease.until))
        counts.update(
            {
                "analysed": total["articles"],
                **{k: v for k, v in sorted(total.items()) if k != "articles"},
            }
        )
    return counts


# --- claim ledger (issue 15) -------------------------------------------------------------


def link_claims(run_id: str) -> dict[str, Any]:
    """Stage (issue 15): link new numeric claims of published articles into measures, relations
    and clusters; incremental and idempotent (a claim is linked once)."""
    from pipeline.ledger.stage import link_pending

    settings = get_settings()
    engine = get_engine()
    with _stage(engine, run_id, "ledger") as counts:
        result = link_pending(
            engine, batch_size=settings.ledger_batch_size, window=settings.ledger_window
        )
        counts.update(result.as_dict())
    return counts


# --- re-extraction requested from Airflow -------------------------------------------------


def reextract_requested(
    run_id: str, *, since: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """``reextract`` with the string parameters a manual DAG run carries (ISO date, outlet name).

    A naive date is taken as UTC; an unparseable one is an error naming the value, so the run
    fails visibly instead of re-extracting everything.
    """
    when: datetime | None = None
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError as exc:
            raise ValueError(f"since={since!r} is not an ISO date (e.g. 2026-11-01)") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return reextract(run_id, since=when, source_name=source or None)
