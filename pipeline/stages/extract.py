"""Stage 3, extract: text and metadata of fetched pages, from the raw archive, in worker
processes; re-extraction of rows another extractor version made."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings, get_settings
from pipeline.dates import as_utc
from pipeline.extract import EXTRACTOR_VERSION, ExtractResult
from pipeline.extract_worker import ExtractionWorker, ExtractJob
from pipeline.fetch import (
    ArchiveMissingError,
    ArchiveUnavailableError,
    RawArchive,
)
from pipeline.stages.runs import (
    StageFailedError,
    id_batches,
    open_archive,
    pooled_batches,
    raw_archive,
    release_leases,
    stage_run,
    utc_now,
)
from pipeline.warehouse import get_engine
from pipeline.warehouse.schema import article, source

log = logging.getLogger(__name__)


# Extraction failures that say nothing about the page: its body could not be read from the raw
# archive (a worker looking at another store, a store briefly away) or the extraction worker
# died under it. `mediamon reextract` (and the mediamon_reextract DAG) takes these rows again
# whatever their extractor version; every other reason is the page's own and stays judged.
RETRYABLE_EXTRACT_REASONS = frozenset({"archive_missing", "extraction_error"})


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
        values = _extraction_values(results[row.id], next_status(row, results[row.id]), utc_now())
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
            release_leases(engine, [row.id for row in rows if row.id not in results], lease)
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
    with stage_run(engine, run_id, "extract", worker=worker) as counts:
        archive = open_archive("extract", settings)
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

        batches = pooled_batches(
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
    with stage_run(engine, run_id, "reextract") as counts:
        archive = open_archive("reextract", settings)
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
                for ids in id_batches(engine, stale_ids):
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
