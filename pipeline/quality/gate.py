"""The quality gate: validate each batch of analysed articles, publish or hold back what fails.

A failing expectation holds back the smallest thing it is about (issues 7 and 19):

- an article check: exactly the failing articles go to ``quarantine`` with their reasons and
  become ``quarantined``; every other article of the batch becomes ``published``;
- a claim check (a quote without a speaker): the claim gets its quarantine row and
  ``claim.held``; its article publishes with its other claims, and the held claim stays out of
  the claim views and the ledger until the row is released;
- a source check (a source whose fetches/extractions mostly fail in the window): that source's
  waiting articles are quarantined with the reason; the other sources publish;
- a batch check (a run whose feeds were due but that recorded no feed polls: polling broke):
  the results are recorded, nothing is published, and :class:`BatchRejectedError` fails the
  task. A run with no feed due is a no-op, not a failure (see :func:`run_gate`).

Pre-flight checks (feed polls of the run, source failure shares) run before any batch, so a
rejection publishes nothing of the whole run and a held source's articles never reach a batch.
Each step is one transaction: results, quarantine rows and status changes commit together.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings
from pipeline.dedupe.index import refresh_story_counts
from pipeline.quality import frames
from pipeline.quality.results import (
    CheckResult,
    RowFailure,
    SuiteOutcome,
    Validator,
    format_summary,
    record,
)
from pipeline.quality.suites import ARTICLE, ARTICLE_SOURCE, CLAIM, FEED_POLL
from pipeline.warehouse.schema import article, pipeline_run
from pipeline.warehouse.schema_claims import claim
from pipeline.warehouse.upsert import chunks

log = logging.getLogger(__name__)



class BatchRejectedError(RuntimeError):
    """A batch-level expectation failed: nothing from the batch was published.

    Raised out of the gate stage so the Airflow task fails with this message; the failing
    checks are in ``failures`` and in the dq_run / dq_result rows of ``run_id``.
    """

    def __init__(self, run_id: str, failures: list[tuple[str, CheckResult]]) -> None:
        self.run_id = run_id
        self.failures = failures
        details = "; ".join(_describe(suite, c) for suite, c in failures)
        super().__init__(
            f"quality gate rejected run {run_id}: {details}. Nothing from this batch was "
            "published; fix the cause (or the dq_* threshold settings) and re-run the task."
        )


def _describe(suite: str, check: CheckResult) -> str:
    return f"{suite}.{check.key}: {check.reason} (observed {check.observed_value})"


@dataclass
class GateCounts:
    """What one gate run did (travels through XCom: counts only)."""

    articles: int = 0
    published: int = 0
    quarantined: int = 0
    batches: int = 0
    # Claims held back while their article published; sources whose articles were held back.
    claims_held: int = 0
    sources_held: int = 0
    quarantine_rows: Counter[str] = field(default_factory=Counter)

    def add(self, other: GateCounts) -> None:
        """Add ``other``'s counts to these."""
        self.articles += other.articles
        self.published += other.published
        self.quarantined += other.quarantined
        self.batches += other.batches
        self.claims_held += other.claims_held
        self.sources_held += other.sources_held
        self.quarantine_rows.update(other.quarantine_rows)

    def as_dict(self) -> dict[str, object]:
        """Plain dict for the stage record and XCom."""
        return {
            "articles": self.articles,
            "published": self.published,
            "quarantined": self.quarantined,
            "batches": self.batches,
            "claims_held": self.claims_held,
            "sources_held": self.sources_held,
            "quarantine_rows": dict(self.quarantine_rows),
        }


def _set_status(conn: Connection, ids: list[str], status: str, now: datetime) -> int:
    if not ids:
        return 0
    # Guard on the input status: a row another worker already moved is left alone.
    done = conn.execute(
        sa.update(article)
        .where(article.c.id.in_(ids), article.c.status == frames.GATE_INPUT_STATUS)
        .values(status=status, updated_at=now)
    ).rowcount
    return done or 0


def _hold_claims(conn: Connection, ids: list[int]) -> int:
    """Mark claims ``ids`` held; return how many rows changed."""
    done = 0
    # One batch of claim-dense articles can fail more claims than one IN list may name.
    for chunk in chunks(ids):
        result = conn.execute(sa.update(claim).where(claim.c.id.in_(chunk)).values(held=True))
        done += result.rowcount or 0
    return done


def _reject(validator: Validator, run_id: str, outcomes: list[SuiteOutcome]) -> BatchRejectedError:
    failures = [(o.suite, c) for o in outcomes for c in o.batch_failures]
    validator.build_docs(run_id)
    log.error("%s", format_summary(run_id, outcomes, "REJECTED"))
    return BatchRejectedError(run_id, failures)


def _hold_sources(
    conn: Connection, outcome: SuiteOutcome, sources: pd.DataFrame
) -> tuple[list[RowFailure], int]:
    """Quarantine the waiting articles of each source that failed a source check.

    Returns one quarantine row to be per (article, failed check), naming the source and its
    counts, and how many sources were held.
    """
    failed: dict[int, list[RowFailure]] = {}
    for f in outcome.row_failures:
        failed.setdefault(int(f.entity_id), []).append(f)
    if not failed:
        return [], 0
    # What a person reads in `quarantine list`: which source, and how badly it fails.
    described = {
        int(sid): f"{name} {int(bad)}/{int(total)} failed ({share:.0%})"
        for sid, name, bad, total, share in sources[
            ["id", "source", "failed", "articles", "failed_share"]
        ].itertuples(index=False)
        if int(sid) in failed
    }
    # One set-based update, guarded on the input status like _set_status (a row another worker
    # moved is left alone); RETURNING names exactly the rows this gate run took.
    held = conn.execute(
        sa.update(article)
        .where(
            article.c.source_id.in_(sorted(failed)),
            article.c.status == frames.GATE_INPUT_STATUS,
        )
        .values(status="quarantined", updated_at=datetime.now(UTC))
        .returning(article.c.id, article.c.source_id)
    ).all()
    rows = [
        RowFailure(
            entity="article",
            entity_id=aid,
            article_id=aid,
            expectation=f.expectation,
            reason=f.reason,
            observed_value=described.get(sid, f.observed_value),
        )
        for aid, sid in sorted(held)
        for f in failed[sid]
    ]
    if rows:
        log.warning(
            "quality gate: %d article(s) held back from failing sources: %s",
            len(held),
            "; ".join(described.get(sid, str(sid)) for sid in sorted(failed)),
        )
    return rows, len(failed)


def preflight(
    engine: Engine, validator: Validator, run_id: str, settings: Settings, now: datetime
) -> tuple[list[SuiteOutcome], GateCounts]:
    """Checks of the whole run before any batch.

    Raises BatchRejectedError when a batch-level check fails (feeds were due but the run
    recorded no feed polls).
    A source whose failure share is above the bound has its waiting articles quarantined here,
    in the same commit as the results; the counts say how many.
    """
    since = now - timedelta(hours=settings.dq_source_window_hours)
    with engine.connect() as conn:
        polls = frames.feed_poll_frame(conn, run_id)
        sources = frames.source_frame(
            conn, since=since, min_articles=settings.dq_source_min_articles
        )
    poll_out = validator.validate(FEED_POLL, polls, run_id=run_id)
    source_out = validator.validate(ARTICLE_SOURCE, sources, run_id=run_id)
    outcomes = [poll_out, source_out]
    rejected = any(o.batch_failures for o in outcomes)
    counts = GateCounts()
    with engine.begin() as conn:
        held: list[RowFailure] = []
        if not rejected:
            held, counts.sources_held = _hold_sources(conn, source_out, sources)
        # The source rows themselves are not quarantine rows: their articles are, one each,
        # so each can be listed and released like any other quarantined article.
        for out, quarantined in ((poll_out, poll_out.row_failures), (source_out, held)):
            record(
                conn,
                run_id=run_id,
                batch_no=0,
                outcome=out,
                docs_path=validator.docs_dir / "index.html",
                quarantined=quarantined,
                rejected=rejected,
            )
    if rejected:
        raise _reject(validator, run_id, outcomes)
    counts.articles = counts.quarantined = len({f.entity_id for f in held})
    counts.quarantine_rows.update(f.expectation for f in (*poll_out.row_failures, *held))
    return outcomes, counts


def _next_batch(engine: Engine, size: int, after: str) -> list[str]:
    # Keyset pagination on the key: each batch query reads only its own rows, however many
    # batches came before (an offset or "not in handed" would re-read them all).
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(article.c.id)
                .where(article.c.status == frames.GATE_INPUT_STATUS, article.c.id > after)
                .order_by(article.c.id)
                .limit(size)
            ).scalars()
        )


def gate_batch(
    engine: Engine, validator: Validator, run_id: str, batch_no: int, ids: list[str]
) -> tuple[list[SuiteOutcome], GateCounts]:
    """Validate one batch of articles and their claims; publish, quarantine, hold in one commit.

    A failing article is quarantined; a failing claim is held on its own and its article is
    published unless an article check failed too.
    """
    with engine.connect() as conn:
        articles = frames.article_frame(conn, ids)
        texts = dict(zip(articles["id"], articles["text"], strict=True))
        claims = frames.claim_frame(conn, ids, texts)
    article_out = validator.validate(ARTICLE, articles, run_id=run_id)
    claim_out = validator.validate(CLAIM, claims, run_id=run_id)
    outcomes = [article_out, claim_out]
    rejected = any(o.batch_failures for o in outcomes)
    held = {f.article_id for f in article_out.row_failures if f.article_id}
    held_claims = sorted({int(f.entity_id) for f in claim_out.row_failures})
    counts = GateCounts(articles=len(ids), batches=1)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for out in outcomes:
            record(
                conn,
                run_id=run_id,
                batch_no=batch_no,
                outcome=out,
                docs_path=validator.docs_dir / "index.html",
                quarantined=[] if rejected else out.row_failures,
                rejected=rejected,
            )
        if not rejected:
            counts.quarantined = _set_status(conn, sorted(held), "quarantined", now)
            good = [i for i in ids if i not in held]
            counts.published = _set_status(conn, good, "published", now)
            # Story size is its published articles: recounted in the same transaction.
            refresh_story_counts(conn, good)
            counts.claims_held = _hold_claims(conn, held_claims)
            counts.quarantine_rows.update(f.expectation for o in outcomes for f in o.row_failures)
    if rejected:
        raise _reject(validator, run_id, outcomes)
    return outcomes, counts


def feeds_due(engine: Engine, run_id: str) -> int | None:
    """How many feeds the poll stage of ``run_id`` found due, or None when the run has no
    finished poll stage (a gate run on its own, or an older stage row without the count)."""
    with engine.connect() as conn:
        counts = conn.execute(
            sa.select(pipeline_run.c.counts).where(
                pipeline_run.c.run_id == run_id,
                pipeline_run.c.stage == "poll",
                pipeline_run.c.status == "success",
            )
        ).scalar_one_or_none()
    if not isinstance(counts, dict) or not isinstance(counts.get("feeds_polled"), int):
        return None
    return int(counts["feeds_polled"])


def run_gate(
    engine: Engine, run_id: str, settings: Settings, *, now: datetime | None = None
) -> GateCounts:
    """Gate every article waiting in status ``analysed``, batch by batch.

    The batch check that the run recorded feed polls tells "polling broke" from "nothing was
    due": it is not applied when the run's poll stage found no feed due (a scheduled run between
    feeds' poll times, the usual case), which is a no-op, not a failure.
    """
    if settings.dq_require_feed_polls and feeds_due(engine, run_id) == 0:
        log.info("quality gate: no feed was due in run %s, so no poll is expected", run_id)
        settings = settings.model_copy(update={"dq_require_feed_polls": False})
    validator = Validator(settings, run_id=run_id)
    outcomes, total = preflight(engine, validator, run_id, settings, now or datetime.now(UTC))
    # Rows another worker moves meanwhile are skipped by the status guard; rows released while
    # the gate runs wait for the next run.
    last = ""
    while ids := _next_batch(engine, settings.dq_batch_size, last):
        last = ids[-1]
        batch_outcomes, counts = gate_batch(engine, validator, run_id, total.batches + 1, ids)
        outcomes += batch_outcomes
        total.add(counts)
    docs = validator.build_docs(run_id)
    verdict = (
        f"{total.published} published, {total.quarantined} quarantined "
        f"({total.sources_held} source(s) held), {total.claims_held} claim(s) held; docs {docs}"
    )
    log.info("%s", format_summary(run_id, outcomes, verdict))
    return total


__all__ = ["BatchRejectedError", "GateCounts", "RowFailure", "gate_batch", "run_gate"]
