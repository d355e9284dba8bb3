"""Ledger rows outside the linking run: forgetting an article's claims before the NLP stage
replaces them. Kept apart from the stage module so the NLP store imports no ledger rules."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.warehouse.schema_claims import claim
from pipeline.warehouse.schema_ledger import (
    claim_cluster,
    claim_cluster_member,
    claim_measure,
    claim_relation,
)


def forget_claims(conn: Connection, article_ids: str | Sequence[str]) -> None:
    """Remove the ledger rows of the claims of an article (or of several: one set of statements
    for a batch) before they are replaced (in the caller's transaction). Claims that shared a
    cluster with them are queued again, so the next run recomputes that cluster's origin and
    roles."""
    wanted = [article_ids] if isinstance(article_ids, str) else list(article_ids)
    if not wanted:
        return
    ids = sa.select(claim.c.id).where(claim.c.article_id.in_(wanted)).scalar_subquery()
    clusters = list(
        conn.execute(
            sa.select(claim_cluster_member.c.cluster_id)
            .where(claim_cluster_member.c.claim_id.in_(ids))
            .distinct()
        ).scalars()
    )
    if clusters:
        siblings = sa.select(claim_cluster_member.c.claim_id).where(
            claim_cluster_member.c.cluster_id.in_(clusters)
        )
        conn.execute(sa.delete(claim_measure).where(claim_measure.c.claim_id.in_(siblings)))
        conn.execute(sa.update(claim).where(claim.c.id.in_(siblings)).values(linked=False))
        conn.execute(
            sa.delete(claim_cluster_member).where(claim_cluster_member.c.cluster_id.in_(clusters))
        )
        conn.execute(sa.delete(claim_cluster).where(claim_cluster.c.id.in_(clusters)))
    conn.execute(
        sa.delete(claim_relation).where(
            sa.or_(claim_relation.c.claim_a.in_(ids), claim_relation.c.claim_b.in_(ids))
        )
    )
    conn.execute(sa.delete(claim_measure).where(claim_measure.c.claim_id.in_(ids)))


__all__ = ["forget_claims"]
