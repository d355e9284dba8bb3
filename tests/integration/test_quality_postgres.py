"""The quality gate on a real PostgreSQL warehouse: the same planted defects as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.config import get_settings
from pipeline.warehouse import make_engine
from tests.quality_checks import (
    check_claim_is_held_not_its_article,
    check_failing_source_is_held,
    check_gate_row_defects,
)

pytestmark = pytest.mark.postgres


def test_gate_row_defects_on_postgres(pg_url: str, home: Path) -> None:
    engine = make_engine(pg_url)
    try:
        check_gate_row_defects(engine, get_settings())
        with engine.connect() as conn:
            # The summary view compiles and aggregates on PostgreSQL too.
            rows = conn.execute(sa.text("select count(*) from v_dq_summary")).scalar_one()
        assert rows > 0
    finally:
        engine.dispose()


def test_failing_source_is_held_on_postgres(pg_url: str, home: Path) -> None:
    engine = make_engine(pg_url)
    try:
        check_failing_source_is_held(engine, get_settings())
    finally:
        engine.dispose()


def test_claim_is_held_not_its_article_on_postgres(pg_url: str, home: Path) -> None:
    engine = make_engine(pg_url)
    try:
        check_claim_is_held_not_its_article(engine, get_settings())
    finally:
        engine.dispose()
