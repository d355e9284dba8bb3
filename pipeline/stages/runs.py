"""Stage bookkeeping shared by every ingest stage: the pipeline_run row of a stage run
(:func:`stage_run`), the lease rule that lets several runs and workers take batches of one stage
without sharing a row (:class:`Lease`, :func:`leased_batches`), batches computed in worker
processes (:func:`pooled_batches`), and the counts of mapped workers combined.

Each stage reads a batch of rows in one status from the warehouse, does its work, and writes its
results and the next status in ONE transaction per batch. A crash loses at most the batch in hand
and leaves no half-written one; a re-run picks up where the last committed batch ended (fetch,
extract and analyse lease their batches, so concurrent runs never share one; a crashed run's
batch is taken again when its lease lapses). Stages return small dicts of counts (they travel
through XCom), never article bodies.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings, get_settings, mask_urls_in_text
from pipeline.dates import as_utc
from pipeline.fetch import (
    ArchiveUnavailableError,
    RawArchive,
)
from pipeline.logs import log_stage_summary, quiet_library_loggers
from pipeline.registry import db_error as _db_error
from pipeline.warehouse import schema, upsert
from pipeline.warehouse.schema import article, pipeline_run
from pipeline.warehouse.upsert import chunks

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    return RawArchive(settings.raw_archive_root(), storage_options=settings.raw_archive_options)


def open_archive(stage: str, settings: Settings) -> RawArchive:
    """The raw archive for ``stage``; a URL or options it cannot use fail the stage."""
    try:
        return raw_archive(settings)
    except ArchiveUnavailableError as exc:
        raise StageFailedError(stage, "archive_unavailable", str(exc)) from exc


def release_leases(engine: Engine, ids: Sequence[str], until: datetime) -> None:
    """Give back the rows of a lease (``until``) that this run could not finish: untouched, and
    due again at once, so the next run takes them."""
    now = utc_now()
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


# The statuses in which a stage leases rows (see leased_batches): what it takes and gives back.
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
            name,
            run_id,
            earlier.status,
            released,
        )
    return int(released or 0)


# Clocks of workers and database differ a little; a lease is never shorter than this less.
LEASE_CLOCK_SLACK = timedelta(minutes=1)


@contextmanager
def stage_run(
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
    started = utc_now()
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
        failed = row | {"finished_at": utc_now(), "status": "failed", "counts": counts}
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
            log.error(
                "stage %s of run %s: failure not recorded: %s", name, run_id, _db_error(record_exc)
            )
        raise
    with engine.begin() as conn:
        done = row | {"finished_at": utc_now(), "status": "success", "counts": counts}
        upsert(conn, pipeline_run, [done], key=["run_id", "stage"], update=cols)
    log_stage_summary(engine, name, run_id, counts, logger=log)


def id_batches(
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


def unleased(now: datetime) -> sa.ColumnElement[bool]:
    """Rows no run holds a lease on at ``now`` (rows never leased have no next_attempt_at)."""
    return sa.or_(article.c.next_attempt_at.is_(None), article.c.next_attempt_at <= now)


def leased_batches(
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
            until = utc_now() + lease
            for chunk in chunks(ids):
                conn.execute(
                    sa.update(article).where(article.c.id.in_(chunk)).values(next_attempt_at=until)
                )
        if not ids:
            return
        handed.update(ids)
        yield Lease(ids, until)


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


def pooled_batches(
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
        .where(article.c.status == status, unleased(utc_now()))
        .order_by(article.c.id)
    )
    processes, batch_size = _plan(engine, due, settings, worker)
    counts["processes"] = processes
    leases = leased_batches(engine, due, size=batch_size, lease=stage_timeout(stage))
    return ordered_map(
        leases,
        lambda lease: read(engine, lease.ids),
        compute,
        (settings,),
        size=processes,
        abandon=lambda lease: release_leases(engine, lease.ids, lease.until),
    )


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


def one_stage_counts(value: Any) -> Any:
    """One stage's counts as finish_run records them: a mapped stage's counts (a sequence of
    dicts, which Airflow passes as a lazy sequence of XComs) combined into one dict."""
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return combine_counts(value)
    return value
