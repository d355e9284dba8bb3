"""The quality gate on a real PostgreSQL warehouse: the same planted defects as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.config import get_settings
from pipeline.warehouse import make_engine
from tests.quality_checks import check_gate_row_defects, check_source_failure_rejects

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


def test_source_failure_rejects_on_postgres(pg_url: str, home: Path) -> None:
    engine = make_engine(pg_url)
    try:
        check_source_failure_rejects(engine, get_settings())
    finally:
        engine.dispose()
