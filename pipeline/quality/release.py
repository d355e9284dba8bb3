"""List and release quarantined rows (``mediamon quarantine list|release``).

Releasing never publishes: it marks the quarantine rows released and moves each article whose
open quarantine rows are now all released back to the gate's input status (``analysed``), so the
next gate run validates it again (and quarantines it again if the defect is still there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.quality.frames import GATE_INPUT_STATUS
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_quality import quarantine


@dataclass(frozen=True)
class QuarantineRow:
    """One quarantine row as listed to a user."""

    id: int
    entity: str
    entity_id: str
    article_id: str | None
    expectation: str
    reason: str
    observed_value: str | None
    run_id: str
    created_at: datetime
    released_at: datetime | None


@dataclass(frozen=True)
class ReleaseResult:
    """What a release did."""

    rows_released: int
    articles_requeued: int
    articles_still_held: int


def list_quarantine(
    engine: Engine,
    *,
    expectation: str | None = None,
    include_released: bool = False,
    limit: int = 100,
) -> list[QuarantineRow]:
    """Quarantine rows, newest first; open ones only unless ``include_released``."""
    query = sa.select(*(quarantine.c[f] for f in QuarantineRow.__dataclass_fields__))
    if expectation:
        query = query.where(quarantine.c.expectation == expectation)
    if not include_released:
        query = query.where(quarantine.c.released_at.is_(None))
    query = query.order_by(quarantine.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [QuarantineRow(**row) for row in conn.execute(query).mappings()]


def release(
    engine: Engine,
    *,
    ids: Sequence[int] = (),
    expectation: str | None = None,
    release_all: bool = False,
    now: datetime | None = None,
) -> ReleaseResult:
    """Release quarantine rows by id, or all open ones (optionally of one expectation)."""
    if not ids and not release_all:
        raise ValueError("name quarantine ids, or use all (optionally with an expectation)")
    now = now or datetime.now(UTC)
    cond: sa.ColumnElement[bool] = quarantine.c.released_at.is_(None)
    if ids:
        cond = sa.and_(cond, quarantine.c.id.in_(list(ids)))
    if expectation:
        cond = sa.and_(cond, quarantine.c.expectation == expectation)
    with engine.begin() as conn:
        articles = set(
            conn.execute(
                sa.select(quarantine.c.article_id).where(cond, quarantine.c.article_id.is_not(None))
            ).scalars()
        )
        released = conn.execute(quarantine.update().where(cond).values(released_at=now)).rowcount
        held = set(
            conn.execute(
                sa.select(quarantine.c.article_id).where(
                    quarantine.c.article_id.in_(articles), quarantine.c.released_at.is_(None)
                )
            ).scalars()
        )
        free = sorted(articles - held)
        requeued = 0
        if free:
            requeued = conn.execute(
                sa.update(article)
                .where(article.c.id.in_(free), article.c.status == "quarantined")
                .values(status=GATE_INPUT_STATUS, updated_at=now)
            ).rowcount
    return ReleaseResult(
        rows_released=released or 0,
        articles_requeued=requeued or 0,
        articles_still_held=len(held),
    )
