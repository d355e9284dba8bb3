"""Reprocess one stage over a window of articles (``dags/mediamon_reprocess.py``).

An operator upgrades trafilatura or the claim rules, or releases quarantined articles, and
wants the warehouse brought up to date without refetching anything. Every stage here redoes
only what is out of date, so a run is idempotent: a second run with the same parameters finds
nothing to do and changes nothing.

- ``extract``: articles extracted by another extractor version, again from the raw archive
  (``flow.reextract``); an article whose text changed goes back to ``extracted``, so the next
  ingest run re-dedupes, re-analyses and re-gates it.
- ``nlp``: articles analysed by another claim-extractor version (``article.nlp_version``, also
  set when no claim was found; unknown counts as another) are analysed again; published ones go
  back through the quality gate in the same run (their new claims have not been validated).
- ``gate``: articles of the window waiting at the gate (status ``analysed``, e.g. after
  ``mediamon quarantine release``) are validated and published or quarantined.
- ``ledger``: the claims of the window's articles that another linker version linked
  (``claim_measure.linker_version``; unknown counts as another) are queued again, then every
  numeric claim not linked yet is linked. The ledger is one incremental queue, so the window
  narrows only which links count as out of date.

The window (``since`` inclusive, ``until`` exclusive) is on the fetch time; ``source`` is an
outlet's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import get_settings
from pipeline.stages.runs import stage_run
from pipeline.warehouse import get_engine
from pipeline.warehouse.schema import article, source

STAGES = ("extract", "nlp", "gate", "ledger")
# Articles whose claims the nlp stage may redo: analysed or past it. Quarantined ones keep their
# status (a release sends them to the gate); published ones are re-gated.
NLP_STATUSES = ("analysed", "published", "quarantined")


class ReprocessError(ValueError):
    """The parameters of a reprocess run are invalid; the message names the one to fix."""


@dataclass(frozen=True)
class Window:
    """Which articles a reprocess run looks at."""

    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None

    @classmethod
    def parse(
        cls, since: str | None = None, until: str | None = None, source: str | None = None
    ) -> Window:
        """A window from the strings a manual DAG run carries (ISO dates; naive means UTC)."""
        window = cls(_date("since", since), _date("until", until), source or None)
        if window.since and window.until and window.since >= window.until:
            raise ReprocessError(f"since={since!r} is not before until={until!r}")
        return window

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """SQL conditions on ``article`` for this window."""
        out: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            out.append(article.c.fetched_at >= self.since)
        if self.until is not None:
            out.append(article.c.fetched_at < self.until)
        if self.source is not None:
            ids = sa.select(source.c.id).where(source.c.name == self.source)
            out.append(article.c.source_id.in_(ids.scalar_subquery()))
        return out

    def as_dict(self) -> dict[str, str | None]:
        """The window as recorded with the run's counts."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "source": self.source,
        }


def _date(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ReprocessError(f"{name}={value!r} is not an ISO date (e.g. 2026-11-01)") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def reprocess(
    run_id: str,
    *,
    stage: str,
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Bring ``stage`` up to date for the window; return the counts (also in pipeline_run).

    Raises :class:`ReprocessError` for an unknown stage or a bad date, before touching anything.
    """
    if stage not in STAGES:
        raise ReprocessError(f"stage={stage!r}: choose one of {', '.join(STAGES)}")
    window = Window.parse(since, until, source)
    if stage == "extract":
        from pipeline import flow

        counts = flow.reextract(
            run_id, since=window.since, until=window.until, source_name=window.source
        )
        return {"stage": stage, "window": window.as_dict(), **counts}
    engine = get_engine()
    with stage_run(engine, run_id, f"reprocess_{stage}") as counts:
        counts.update({"stage": stage, "window": window.as_dict()})
        if stage == "nlp":
            counts.update(_nlp(engine, run_id, window))
        elif stage == "gate":
            counts.update(_gate(engine, run_id, window))
        else:
            counts.update(_ledger(engine, window))
    return counts


def _ids(engine: Engine, where: list[sa.ColumnElement[bool]], after: str, limit: int) -> list[str]:
    # Keyset paging on the key: every batch reads only its own rows.
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(article.c.id)
                .where(*where, article.c.id > after)
                .order_by(article.c.id)
                .limit(limit)
            ).scalars()
        )


def _nlp(engine: Engine, run_id: str, window: Window) -> dict[str, Any]:
    from pipeline.nlp.records import EXTRACTOR_VERSION
    from pipeline.nlp.stage import analyse_ids, extractor_for, resolver_for

    settings = get_settings()
    # The article's own mark, so an article the old rules found no claim in is redone too.
    stale = sa.or_(article.c.nlp_version.is_(None), article.c.nlp_version != EXTRACTOR_VERSION)
    where = [article.c.status.in_(NLP_STATUSES), stale, *window.conditions()]
    extractor = extractor_for(settings)
    resolve = resolver_for(settings)
    reanalysed = regate = 0
    last = ""
    while ids := _ids(engine, where, last, settings.batch_size):
        last = ids[-1]
        analyse_ids(engine, ids, extractor, advance=False, resolve=resolve)
        reanalysed += len(ids)
        # Published articles carry claims the gate has not seen: back to its input status.
        with engine.begin() as conn:
            moved = conn.execute(
                sa.update(article)
                .where(article.c.id.in_(ids), article.c.status == "published")
                .values(status="analysed", updated_at=datetime.now(UTC))
            )
            regate += moved.rowcount or 0
    gated = _gate(engine, run_id, window) if regate else {}
    return {
        "reanalysed": reanalysed,
        "regated": regate,
        "extractor_version": EXTRACTOR_VERSION,
        **gated,
    }


def _gate(engine: Engine, run_id: str, window: Window) -> dict[str, Any]:
    from pipeline.quality.frames import GATE_INPUT_STATUS
    from pipeline.quality.gate import GateCounts, gate_batch
    from pipeline.quality.results import Validator

    settings = get_settings()
    where = [article.c.status == GATE_INPUT_STATUS, *window.conditions()]
    total = GateCounts()
    validator: Validator | None = None
    last = ""
    # The ingest run's whole-run checks (feed polls, source failure shares) are left to ingest:
    # a reprocess run polls nothing, and judging sources belongs to the run that fetched.
    while ids := _ids(engine, where, last, settings.dq_batch_size):
        last = ids[-1]
        validator = validator or Validator(settings)
        _, counts = gate_batch(engine, validator, run_id, total.batches + 1, ids)
        total.add(counts)
    return {
        "gated": total.articles,
        "published": total.published,
        "quarantined": total.quarantined,
        "claims_held": total.claims_held,
    }


def _ledger(engine: Engine, window: Window) -> dict[str, Any]:
    from pipeline.ledger.stage import LINKER_VERSION, link_pending, unlink_stale

    settings = get_settings()
    relinked = unlink_stale(engine, window.conditions(), batch_size=settings.ledger_batch_size)
    result = link_pending(
        engine, batch_size=settings.ledger_batch_size, window=settings.ledger_window
    )
    return {**result.as_dict(), "relinked_articles": relinked, "linker_version": LINKER_VERSION}
