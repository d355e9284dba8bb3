"""The claim ledger on real PostgreSQL (issue 15): the same stage checks as on SQLite, the views,
and two linking workers at once giving what one gives."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.config import get_settings
from pipeline.nlp.claims import ClaimExtractor
from pipeline.nlp.loading import get_nlp
from pipeline.warehouse import make_engine
from pipeline.warehouse.migrate import downgrade, upgrade
from tests.test_ledger import OUTLET_A, OUTLET_B, _ledger_state, _seed, check_stage

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def extractor() -> ClaimExtractor:
    return ClaimExtractor(get_nlp(get_settings().spacy_model))


def test_ledger_stage_and_views_on_postgres(pg_url: str, extractor: ClaimExtractor) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    check_stage(engine, extractor)
    with engine.connect() as conn:
        for view in ("v_claims", "v_claim_ledger", "v_claim_conflicts", "v_claim_spread"):
            assert conn.execute(sa.text(f"select count(*) from {view}")).scalar_one() > 0
    # The migration goes back down cleanly with ledger rows in place, and up again.
    downgrade(engine, "20261130_0009")
    upgrade(engine)
    engine.dispose()


def _link(url: str) -> dict[str, Any]:
    from pipeline.ledger.stage import link_pending

    engine = make_engine(url)
    try:
        return link_pending(engine, batch_size=2).as_dict()
    finally:
        engine.dispose()


def test_two_workers_link_like_one(pg_url: str, extractor: ClaimExtractor) -> None:
    from datetime import UTC, datetime, timedelta

    engine = make_engine(pg_url)
    upgrade(engine)
    t0 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    items = [
        (f"{k:064x}", f"Outlet {k % 3}", text, t0 + timedelta(hours=k))
        for k, text in enumerate([OUTLET_A, OUTLET_B] * 4)
    ]
    _seed(engine, extractor, items)
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_link, [pg_url, pg_url])
    assert sum(r["claims"] for r in results) > 0
    parallel = _ledger_state(engine)
    # The same claims linked by one worker from scratch give the same rows.
    with engine.begin() as conn:
        for table in ("claim_cluster_member", "claim_cluster", "claim_relation", "claim_measure"):
            conn.execute(sa.text(f"delete from {table}"))
        conn.execute(sa.text("update claim set linked = false"))
    _link(pg_url)
    single = _ledger_state(engine)
    for key in ("claim_measure", "claim_relation", "claim_actors"):
        assert parallel[key] == single[key], key
    roles = lambda rows: sorted((r[0], r[2], r[3]) for r in rows)  # noqa: E731
    assert roles(parallel["members"]) == roles(single["members"])
    engine.dispose()
