"""The quality gate: validate each batch of analysed articles, publish or quarantine.

Two kinds of failure (DESIGN.md, issue 7):

- row level: exactly the failing rows go to ``quarantine`` with their reasons; their article
  becomes ``quarantined`` (a bad claim holds back its article, so its claims stay unpublished
  too); every other article of the batch becomes ``published``;
- batch level (a source whose fetches/extractions mostly fail, a run with no feed polls): the
  results are recorded, nothing is published, and :class:`BatchRejectedError` fails the task.

Pre-flight checks (feed polls of the run, source failure shares) run before any batch, so a
rejection publishes nothing of the whole run. Each batch is then one transaction: results,
quarantine rows and status changes commit together.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings
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
from pipeline.warehouse.schema import article

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
    if suite == ARTICLE_SOURCE:
        worst = ", ".join(
            f"{s.get('source')} {s.get('failed')}/{s.get('articles')} failed" for s in check.sample
        )
        return f"{suite}.{check.key} ({check.reason}): {worst}"
    return f"{suite}.{check.key}: {check.reason} (observed {check.observed_value})"


@dataclass
class GateCounts:
    """What one gate run did (travels through XCom: counts only)."""

    articles: int = 0
    published: int = 0
    quarantined: int = 0
    batches: int = 0
    quarantine_rows: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """Plain dict for the stage record and XCom."""
        return {
            "articles": self.articles,
            "published": self.published,
            "quarantined": self.quarantined,
            "batches": self.batches,
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


def _reject(validator: Validator, run_id: str, outcomes: list[SuiteOutcome]) -> BatchRejectedError:
    failures = [(o.suite, c) for o in outcomes for c in o.batch_failures]
    validator.build_docs(run_id)
    log.error("%s", format_summary(run_id, outcomes, "REJECTED"))
    return BatchRejectedError(run_id, failures)


def preflight(
    engine: Engine, validator: Validator, run_id: str, settings: Settings, now: datetime
) -> list[SuiteOutcome]:
    """Batch-level checks of the whole run; raises BatchRejectedError when one fails."""
    since = now - timedelta(hours=settings.dq_source_window_hours)
    with engine.connect() as conn:
        polls = frames.feed_poll_frame(conn, run_id)
        sources = frames.source_frame(
            conn, since=since, min_articles=settings.dq_source_min_articles
        )
    outcomes = [
        validator.validate(FEED_POLL, polls, run_id=run_id),
        validator.validate(ARTICLE_SOURCE, sources, run_id=run_id),
    ]
    rejected = any(o.batch_failures for o in outcomes)
    with engine.begin() as conn:
        for out in outcomes:
            record(
                conn,
                run_id=run_id,
                batch_no=0,
                outcome=out,
                docs_path=validator.docs_dir / "index.html",
                quarantined=out.row_failures,
                rejected=rejected,
            )
    if rejected:
        raise _reject(validator, run_id, outcomes)
    return outcomes


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
    """Validate one batch of articles and their claims; publish or quarantine in one commit."""
    with engine.connect() as conn:
        articles = frames.article_frame(conn, ids)
        texts = dict(zip(articles["id"], articles["text"], strict=True))
        claims = frames.claim_frame(conn, ids, texts)
    outcomes = [
        validator.validate(ARTICLE, articles, run_id=run_id),
        validator.validate(CLAIM, claims, run_id=run_id),
    ]
    rejected = any(o.batch_failures for o in outcomes)
    held = {f.article_id for o in outcomes for f in o.row_failures if f.article_id}
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
            counts.quarantine_rows.update(f.expectation for o in outcomes for f in o.row_failures)
    if rejected:
        raise _reject(validator, run_id, outcomes)
    return outcomes, counts


def run_gate(
    engine: Engine, run_id: str, settings: Settings, *, now: datetime | None = None
) -> GateCounts:
    """Gate every article waiting in status ``analysed``, batch by batch."""
    validator = Validator(settings)
    outcomes = preflight(engine, validator, run_id, settings, now or datetime.now(UTC))
    total = GateCounts(
        quarantine_rows=Counter(f.expectation for o in outcomes for f in o.row_failures)
    )
    # Rows another worker moves meanwhile are skipped by the status guard; rows released while
    # the gate runs wait for the next run.
    last = ""
    while ids := _next_batch(engine, settings.dq_batch_size, last):
        last = ids[-1]
        batch_outcomes, counts = gate_batch(engine, validator, run_id, total.batches + 1, ids)
        outcomes += batch_outcomes
        total.articles += counts.articles
        total.published += counts.published
        total.quarantined += counts.quarantined
        total.batches += 1
        total.quarantine_rows.update(counts.quarantine_rows)
    docs = validator.build_docs(run_id)
    verdict = f"{total.published} published, {total.quarantined} quarantined; docs {docs}"
    log.info("%s", format_summary(run_id, outcomes, verdict))
    return total


__all__ = ["BatchRejectedError", "GateCounts", "RowFailure", "gate_batch", "run_gate"]
