"""The analyse stage's batch loop: deduped articles -> entities + claims -> status analysed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import Settings
from pipeline.dates import as_utc
from pipeline.nlp.claims import ClaimExtractor
from pipeline.nlp.loading import get_nlp
from pipeline.nlp.store import store_analysis
from pipeline.warehouse.schema import article

INPUT_STATUS = "deduped"
OUTPUT_STATUS = "analysed"


def extractor_for(settings: Settings) -> ClaimExtractor:
    """The process-wide extractor for the configured model (the model loads once)."""
    return ClaimExtractor(
        get_nlp(settings.spacy_model),
        max_chars=settings.nlp_max_chars,
        batch_size=settings.nlp_pipe_batch,
    )


def _day(value: datetime | None) -> date | None:
    if value is None:
        return None
    return as_utc(value).astimezone(UTC).date()


def analyse_ids(
    engine: Engine,
    ids: Sequence[str],
    extractor: ClaimExtractor,
    *,
    advance: bool = True,
) -> Counter[str]:
    """Analyse the given articles and write the results in ONE transaction; with ``advance``,
    move them from deduped to analysed in that same transaction. Re-running replaces rows."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(article.c.id, article.c.text, article.c.published_at, article.c.fetched_at)
            .where(article.c.id.in_(list(ids)))
            .order_by(article.c.id)
        ).all()
    items = [(r.text or "", _day(r.published_at) or _day(r.fetched_at)) for r in rows]
    counts: Counter[str] = Counter()
    now = datetime.now(UTC)
    analyses = list(extractor.analyse_many(items))
    with engine.begin() as conn:
        for row, analysis in zip(rows, analyses, strict=True):
            store_analysis(conn, row.id, analysis, now=now)
            counts["articles"] += 1
            counts["words"] += analysis.words
            counts["entities"] += len(analysis.entities)
            counts.update(f"claims_{c.kind}" for c in analysis.claims)
            if advance:
                conn.execute(
                    sa.update(article)
                    .where(article.c.id == row.id, article.c.status == INPUT_STATUS)
                    .values(status=OUTPUT_STATUS, updated_at=now)
                )
    return counts


def analyse_pending(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Analyse every deduped article, batch by batch (one transaction per batch)."""
    extractor = extractor_for(settings)
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
        total.update(analyse_ids(engine, ids, extractor))
    return {
        "analysed": total["articles"],
        **{k: v for k, v in sorted(total.items()) if k != "articles"},
    }
