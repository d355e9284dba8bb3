"""List and release quarantined rows (``mediamon quarantine list|release``).

Releasing an article's rows never publishes: it marks the rows released and moves each article
whose open article rows are now all released back to the gate's input status (``analysed``), so
the next gate run validates it again (and quarantines it again if the defect is still there).

Releasing a claim's rows un-holds the claim (``claim.held``) once none of its rows is open: its
article was published without it, so the release itself lets it into the claim views and the
ledger's queue. A claim row never holds back its article; an article still ``quarantined`` with
only claim rows open (the gate before issue 19 did that) goes back to ``analysed`` as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.quality.frames import GATE_INPUT_STATUS
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_claims import claim
from pipeline.warehouse.schema_quality import quarantine
from pipeline.warehouse.upsert import chunks

_K = TypeVar("_K", str, int)


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
    # Claims back in the claim views and the ledger's queue; claims still held by open rows.
    claims_unheld: int = 0
    claims_still_held: int = 0


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
    """Release quarantine rows by id, or all open ones (optionally of one expectation).

    Their articles go back to ``analysed`` and their claims are un-held once no open row holds
    them any more (see the module docstring).
    """
    if not ids and not release_all:
        raise ValueError("name quarantine ids, or use all (optionally with an expectation)")
    now = now or datetime.now(UTC)
    cond: sa.ColumnElement[bool] = quarantine.c.released_at.is_(None)
    if ids:
        cond = sa.and_(cond, quarantine.c.id.in_(list(ids)))
    if expectation:
        cond = sa.and_(cond, quarantine.c.expectation == expectation)
    with engine.begin() as conn:
        pick = sa.select(quarantine.c.entity, quarantine.c.entity_id, quarantine.c.article_id)
        chosen = conn.execute(pick.where(cond)).all()
        articles = {a for _, _, a in chosen if a is not None}
        claims = {e for entity, e, _ in chosen if entity == "claim"}
        released = conn.execute(quarantine.update().where(cond).values(released_at=now)).rowcount
        # Only a row about the article itself (its own checks, its source) holds it back.
        held = _still_open(conn, quarantine.c.article_id, articles, quarantine.c.entity != "claim")
        held_claims = _still_open(
            conn, quarantine.c.entity_id, claims, quarantine.c.entity == "claim"
        )
        requeued = _update_in(
            conn,
            sa.update(article)
            .where(article.c.status == "quarantined")
            .values(status=GATE_INPUT_STATUS, updated_at=now),
            article.c.id,
            sorted(articles - held),
        )
        unheld = _update_in(
            conn,
            sa.update(claim).where(claim.c.held == sa.true()).values(held=False),
            claim.c.id,
            sorted(int(c) for c in claims - held_claims),
        )
    return ReleaseResult(
        rows_released=released or 0,
        articles_requeued=requeued,
        articles_still_held=len(held),
        claims_unheld=unheld,
        claims_still_held=len(held_claims),
    )


def _still_open(
    conn: Connection, key: sa.Column[Any], values: set[str], kind: sa.ColumnElement[bool]
) -> set[str]:
    """Those of ``values`` that still have an open quarantine row of ``kind`` on ``key``."""
    out: set[str] = set()
    for chunk in chunks(sorted(values)):
        out.update(
            conn.execute(
                sa.select(key).where(key.in_(chunk), kind, quarantine.c.released_at.is_(None))
            ).scalars()
        )
    return out


def _update_in(conn: Connection, stmt: sa.Update, key: sa.Column[Any], ids: Sequence[_K]) -> int:
    """Run ``stmt`` restricted to ``key in ids``, chunked; return the rows changed."""
    done = 0
    for chunk in chunks(ids):
        done += conn.execute(stmt.where(key.in_(chunk))).rowcount or 0
    return done
