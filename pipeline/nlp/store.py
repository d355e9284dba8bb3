"""Writing an article's analysis to the warehouse, and reading the claim ledger back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.ledger.store import forget_claims
from pipeline.nlp.records import Analysis
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_claims import article_entity, claim, entity
from pipeline.warehouse.upsert import chunks, upsert

# Serialises analysis writes across transactions on PostgreSQL (see store_analysis); distinct
# from the dedupe and ledger keys.
STORE_LOCK_KEY = int.from_bytes(b"mm:nlpst", "big") & 0x7FFFFFFFFFFFFFFF


def _serialise(conn: Connection) -> None:
    """Hold the analysis write lock until the caller's transaction ends.

    Two runs may analyse the same article at once (issue 19). Each deletes the article's rows
    and inserts its own; without a lock the second insert collides with the first's uncommitted
    rows (UniqueViolation on article_entity) instead of replacing them once they commit. A row
    lock on the article would serialise that, but the two transactions also upsert shared entity
    rows, in different orders, and could deadlock; one lock for every analysis write cannot.
    Re-entrant within a transaction, and only writes wait (the NLP work happens before them).
    On SQLite the database write lock does this: the first statement of store_analysis writes,
    so the transaction holds it before it reads anything it will replace.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": STORE_LOCK_KEY})


def store_analysis(conn: Connection, article_id: str, analysis: Analysis, *, now: datetime) -> None:
    """Replace the article's claims and entity counts with ``analysis`` (inside the caller's
    transaction, so re-analysing is all-or-nothing and idempotent). Concurrent calls for the
    same article, in different transactions, are serialised: the later replaces the earlier."""
    store_analyses(conn, [(article_id, analysis)], now=now)


# Articles whose old rows one set of delete statements removes: their claim ids and ledger
# clusters go into IN lists, which must stay under the backend's parameter limit.
_FORGET_CHUNK = 200


def store_analyses(
    conn: Connection, items: Sequence[tuple[str, Analysis]], *, now: datetime
) -> None:
    """:func:`store_analysis` for a batch of articles, with a handful of statements for the
    whole batch instead of several per article (the analyse stage writes hundreds of articles
    per transaction). Each article id at most once. Where two articles name the same entity,
    its stored spelling is the first article's, as when they are stored one after the other."""
    if not items:
        return
    _serialise(conn)
    article_ids = [article_id for article_id, _ in items]
    for part in chunks(article_ids, _FORGET_CHUNK):
        # A write first (see _serialise): on SQLite it takes the write lock before the reads
        # of forget_claims.
        conn.execute(sa.delete(article_entity).where(article_entity.c.article_id.in_(part)))
        forget_claims(conn, part)
        conn.execute(sa.delete(claim).where(claim.c.article_id.in_(part)))
    _store_entities(conn, items, now)
    claim_rows = [
        c.to_row() | {"article_id": article_id, "claim_index": i, "created_at": now}
        for article_id, analysis in items
        for i, c in enumerate(analysis.claims)
    ]
    if claim_rows:
        conn.execute(sa.insert(claim), claim_rows)


def _store_entities(conn: Connection, items: Sequence[tuple[str, Analysis]], now: datetime) -> None:
    """Upsert the entities the batch names and write each article's counts of them."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for _, analysis in items:
        for e in analysis.entities:
            first.setdefault(
                (e.normalized[:300], e.label),
                {
                    "name": e.text[:300],
                    "normalized": e.normalized[:300],
                    "label": e.label,
                    "created_at": now,
                },
            )
    if not first:
        return
    upsert(conn, entity, list(first.values()), key=["normalized", "label"])
    names = sorted({n for n, _ in first})
    ids: dict[tuple[str, str], int] = {}
    for part in chunks(names):
        ids.update(
            ((n, lbl), i)
            for i, n, lbl in conn.execute(
                sa.select(entity.c.id, entity.c.normalized, entity.c.label).where(
                    entity.c.normalized.in_(part)
                )
            ).tuples()
        )
    rows: list[dict[str, Any]] = []
    for article_id, analysis in items:
        counts: dict[int, int] = {}
        for e in analysis.entities:
            eid = ids[(e.normalized[:300], e.label)]
            counts[eid] = counts.get(eid, 0) + e.count
        rows += [{"article_id": article_id, "entity_id": k, "count": v} for k, v in counts.items()]
    if rows:
        conn.execute(sa.insert(article_entity), rows)


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
