"""Writing an article's analysis to the warehouse, and reading the claim ledger back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.ledger.store import forget_claims
from pipeline.nlp.records import Analysis
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_claims import article_entity, claim, entity
from pipeline.warehouse.upsert import upsert


def store_analysis(conn: Connection, article_id: str, analysis: Analysis, *, now: datetime) -> None:
    """Replace the article's claims and entity counts with ``analysis`` (inside the caller's
    transaction, so re-analysing is all-or-nothing and idempotent)."""
    forget_claims(conn, article_id)
    conn.execute(sa.delete(claim).where(claim.c.article_id == article_id))
    conn.execute(sa.delete(article_entity).where(article_entity.c.article_id == article_id))
    if analysis.entities:
        upsert(
            conn,
            entity,
            [
                {
                    "name": e.text[:300],
                    "normalized": e.normalized[:300],
                    "label": e.label,
                    "created_at": now,
                }
                for e in analysis.entities
            ],
            key=["normalized", "label"],
        )
        keys = {(e.normalized[:300], e.label) for e in analysis.entities}
        ids = {
            (n, lbl): i
            for i, n, lbl in conn.execute(
                sa.select(entity.c.id, entity.c.normalized, entity.c.label).where(
                    entity.c.normalized.in_([k[0] for k in keys])
                )
            ).tuples()
        }
        counts: dict[int, int] = {}
        for e in analysis.entities:
            eid = ids[(e.normalized[:300], e.label)]
            counts[eid] = counts.get(eid, 0) + e.count
        conn.execute(
            sa.insert(article_entity),
            [{"article_id": article_id, "entity_id": k, "count": v} for k, v in counts.items()],
        )
    if analysis.claims:
        conn.execute(
            sa.insert(claim),
            [
                c.to_row() | {"article_id": article_id, "claim_index": i, "created_at": now}
                for i, c in enumerate(analysis.claims)
            ],
        )


def claim_ledger(engine: Engine, *, limit: int = 40) -> list[dict[str, Any]]:
    """Numeric claims with who said them, newest articles first: the analyst's ledger."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                claim.c.speaker,
                claim.c.qualifier,
                claim.c.value_low,
                claim.c.value_high,
                claim.c.unit,
                claim.c.rate_per,
                claim.c.period,
                claim.c.via,
                claim.c.hedged,
                article.c.sitename,
            )
            .join(article, article.c.id == claim.c.article_id)
            .where(claim.c.kind == "numeric")
            .order_by(article.c.published_at.desc(), claim.c.article_id, claim.c.claim_index)
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows]
