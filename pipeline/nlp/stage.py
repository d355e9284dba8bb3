"""The analyse stage's batch loop: deduped articles -> entities + claims -> status analysed."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import Settings
from pipeline.dates import as_utc
from pipeline.nlp.claims import ClaimExtractor
from pipeline.nlp.loading import get_nlp
from pipeline.nlp.records import EXTRACTOR_VERSION, Analysis
from pipeline.nlp.store import STORE_LOCK_KEY, store_analyses
from pipeline.warehouse.engine import write_lock
from pipeline.warehouse.schema import article
from pipeline.warehouse.upsert import chunks

log = logging.getLogger(__name__)

INPUT_STATUS = "deduped"
OUTPUT_STATUS = "analysed"


def extractor_for(settings: Settings, model: str | None = None) -> ClaimExtractor:
    """The process-wide extractor for ``model`` (default: the English one; loads once)."""
    return ClaimExtractor(
        get_nlp(model or settings.spacy_model),
        max_chars=settings.nlp_max_chars,
        batch_size=settings.nlp_pipe_batch,
    )


Resolver = Callable[[str | None], ClaimExtractor | None]


def resolver_for(settings: Settings) -> Resolver:
    """Language -> extractor (None when no model is configured for it), one per model."""
    cache: dict[str, ClaimExtractor] = {}

    def resolve(language: str | None) -> ClaimExtractor | None:
        model = settings.nlp_model_for(language)
        if model is None:
            return None
        if model not in cache:
            cache[model] = extractor_for(settings, model)
        return cache[model]

    return resolve


def _day(value: datetime | None) -> date | None:
    if value is None:
        return None
    return as_utc(value).astimezone(UTC).date()


def skipped_status(language: str | None) -> str:
    """The nlp_status of an article whose language has no model."""
    return f"skipped: language {language or 'unknown'}"[:60]


class AnalysisRow(NamedTuple):
    """What analysing one article needs of its row: plain values, so a batch of them travels
    to a worker process (pipeline.batch_pool)."""

    id: str
    text: str | None
    language: str | None
    published_at: datetime | None
    fetched_at: datetime | None


def analysis_rows(engine: Engine, ids: Sequence[str]) -> list[AnalysisRow]:
    """The rows of a batch to analyse, in id order."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                article.c.id,
                article.c.text,
                article.c.language,
                article.c.published_at,
                article.c.fetched_at,
            )
            .where(article.c.id.in_(list(ids)))
            .order_by(article.c.id)
        ).all()
    return [AnalysisRow(*r) for r in rows]


def analyse_rows(
    rows: Sequence[AnalysisRow], extractor: ClaimExtractor, resolve: Resolver | None = None
) -> dict[str, Analysis]:
    """Analyse a batch (no warehouse access): id -> analysis, for the articles whose language
    has an extractor (``resolve``; without it every article goes to ``extractor``)."""
    pick = resolve or (lambda _language: extractor)
    groups: dict[int, tuple[ClaimExtractor, list[AnalysisRow]]] = {}
    for r in rows:
        chosen = pick(r.language)
        if chosen is not None:
            groups.setdefault(id(chosen), (chosen, []))[1].append(r)
    results: dict[str, Analysis] = {}
    for chosen, members in groups.values():
        items = [(r.text or "", _day(r.published_at) or _day(r.fetched_at)) for r in members]
        for r, analysis in zip(members, chosen.analyse_many(items), strict=True):
            results[r.id] = analysis
    return results


def write_analyses(
    engine: Engine,
    rows: Sequence[AnalysisRow],
    results: Mapping[str, Analysis],
    *,
    advance: bool = True,
    lease: datetime | None = None,
) -> Counter[str]:
    """Write a batch's analyses in ONE transaction; with ``advance``, move the articles from
    deduped to analysed in it. An article without a result (no model for its language) gets no
    claims or entities and nlp_status "skipped: language xx".

    ``lease``: the end of this run's lease on the batch (the lease rule of
    pipeline.stages.runs): only the articles still deduped and still under it are written (their
    lease cleared); the others are left to whoever holds them now, uncounted. Their status is
    checked before their analysis is replaced, under the analysis write lock taken first, so an
    article another run holds keeps its claims (and their ledger links) untouched.
    """
    counts: Counter[str] = Counter()
    now = datetime.now(UTC)
    advanced: dict[str, Any] = {"status": OUTPUT_STATUS, "updated_at": now} if advance else {}
    with engine.begin() as conn:
        kept = list(rows)
        if lease is not None:
            # First statement: on SQLite it takes the write lock before the guards read.
            write_lock(conn, STORE_LOCK_KEY)
            held: set[str] = set()
            for part in chunks([r.id for r in rows]):
                held.update(
                    conn.execute(
                        sa.update(article)
                        .where(
                            article.c.id.in_(part),
                            article.c.status == INPUT_STATUS,
                            article.c.next_attempt_at == lease,
                        )
                        .values(next_attempt_at=None, **advanced)
                        .returning(article.c.id)
                    ).scalars()
                )
            for row in rows:
                if row.id not in held:
                    log.warning("analysis of %s not recorded: another run holds it", row.id)
            kept = [r for r in rows if r.id in held]
        empty = Analysis(claims=[], entities=[])
        store_analyses(conn, [(r.id, results.get(r.id, empty)) for r in kept], now=now)
        by_status: dict[str, list[str]] = {}
        for row in kept:
            counts["articles"] += 1
            analysis = results.get(row.id)
            if analysis is not None:
                status = "ok"
                counts["words"] += analysis.words
                counts["entities"] += len(analysis.entities)
                counts.update(f"claims_{c.kind}" for c in analysis.claims)
            else:
                status = skipped_status(row.language)
                counts["nlp_skipped"] += 1
            by_status.setdefault(status, []).append(row.id)
        # Under a lease the guard above already advanced the held rows.
        values = {"nlp_version": EXTRACTOR_VERSION} | (advanced if lease is None else {})
        for status, ids in by_status.items():
            for part in chunks(ids):
                conn.execute(
                    sa.update(article)
                    .where(
                        article.c.id.in_(part),
                        article.c.status == INPUT_STATUS
                        if advance and lease is None
                        else sa.true(),
                    )
                    .values(nlp_status=status, **values)
                )
    return counts


def analyse_ids(
    engine: Engine,
    ids: Sequence[str],
    extractor: ClaimExtractor,
    *,
    advance: bool = True,
    resolve: Resolver | None = None,
) -> Counter[str]:
    """Analyse the given articles and write the results in ONE transaction; with ``advance``,
    move them from deduped to analysed in that same transaction. Re-running replaces rows.

    ``resolve`` picks the extractor for an article's language; an article it has none for gets
    no claims or entities and nlp_status "skipped: language xx" (it is published all the same).
    Without it every article goes to ``extractor``."""
    rows = analysis_rows(engine, ids)
    return write_analyses(engine, rows, analyse_rows(rows, extractor, resolve), advance=advance)


class AnalyseCompute:
    """A process's analysis state: the spaCy extractors, loaded once (see
    :mod:`pipeline.batch_pool`), applied batch after batch. Reads no warehouse."""

    def __init__(self, settings: Settings) -> None:
        self.extractor = extractor_for(settings)
        self.resolve = resolver_for(settings)

    def __call__(self, rows: Sequence[AnalysisRow]) -> dict[str, Analysis]:
        """The analyses of a batch (:func:`analyse_rows`)."""
        return analyse_rows(rows, self.extractor, self.resolve)

    def close(self) -> None:
        """Nothing to release: the models live as long as the process."""


def analyse_pending(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Analyse every deduped article, batch by batch (one transaction per batch)."""
    extractor = extractor_for(settings)
    resolve = resolver_for(settings)
    total: Counter[str] = Counter()
    handed: set[str] = set()
    while True:
        with engine.connect() as conn:
            ids = [
                i
                for i in conn.execute(
                    sa.select(article.c.id)
                    .where(article.c.status == INPUT_STATUS)
                    .order_by(article.c.id)
                    .limit(settings.batch_size + len(handed))
                ).scalars()
                if i not in handed
            ]
        if not ids:
            break
        handed.update(ids)
        total.update(analyse_ids(engine, ids, extractor, resolve=resolve))
    return {
        "analysed": total["articles"],
        **{k: v for k, v in sorted(total.items()) if k != "articles"},
    }
