"""The analyse stage's batch loop: deduped articles -> entities + claims -> status analysed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import Settings
from pipeline.dates import as_utc
from pipeline.nlp.claims import ClaimExtractor
from pipeline.nlp.loading import get_nlp
from pipeline.nlp.records import Analysis
from pipeline.nlp.store import store_analysis
from pipeline.warehouse.schema import article

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
    pick = resolve or (lambda _language: extractor)
    groups: dict[int, tuple[ClaimExtractor, list[Any]]] = {}
    skipped: list[Any] = []
    for r in rows:
        chosen = pick(r.language)
        if chosen is None:
            skipped.append(r)
        else:
            groups.setdefault(id(chosen), (chosen, []))[1].append(r)
    results: dict[str, Analysis] = {}
    for chosen, members in groups.values():
        items = [(r.text or "", _day(r.published_at) or _day(r.fetched_at)) for r in members]
        for r, analysis in zip(members, chosen.analyse_many(items), strict=True):
            results[r.id] = analysis
    counts: Counter[str] = Counter()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for row in rows:
            analysis = results.get(row.id, Analysis(claims=[], entities=[]))
            store_analysis(conn, row.id, analysis, now=now)
            counts["articles"] += 1
            if row.id in results:
                status = "ok"
                counts["words"] += analysis.words
                counts["entities"] += len(analysis.entities)
                counts.update(f"claims_{c.kind}" for c in analysis.claims)
            else:
                status = skipped_status(row.language)
                counts["nlp_skipped"] += 1
            values: dict[str, Any] = {"nlp_status": status}
            if advance:
                values |= {"status": OUTPUT_STATUS, "updated_at": now}
            conn.execute(
                sa.update(article)
                .where(
                    article.c.id == row.id,
                    article.c.status == INPUT_STATUS if advance else sa.true(),
                )
                .values(**values)
            )
    return counts


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
