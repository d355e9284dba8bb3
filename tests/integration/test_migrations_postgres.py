"""Migrations on a populated PostgreSQL warehouse: the SQLite checks of tests/test_migrations.py
and tests/test_warehouse.py, run on a real server (127.0.0.1:5432, a throwaway database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import get_settings
from pipeline.warehouse import get_engine, make_engine
from pipeline.warehouse.migrate import upgrade
from tests.conftest import import_feeds
from tests.test_migrations import (
    add_quarantine_row,
    check_round_trips,
    check_rules_enforced,
    check_upgrade_refuses_bad_rows,
    empty_tables,
    populate,
)
from tests.test_warehouse import check_constraints_match_metadata

pytestmark = pytest.mark.postgres


def test_postgres_migrations_keep_rows_and_the_schema_keeps_its_rules(
    pg_url: str, sample_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAMON_WAREHOUSE_URL", pg_url)
    get_settings.cache_clear()
    engine = get_engine()
    try:
        upgrade(engine)
        check_constraints_match_metadata(engine)
        import_feeds(sample_feeds)  # the fixture registered them in the SQLite default
        populate()
        add_quarantine_row(engine)
        assert empty_tables(engine) == []
        assert check_rules_enforced(engine) == []
        assert check_round_trips(engine) == []
    finally:
        engine.dispose()


def test_postgres_upgrade_refuses_rows_that_break_the_new_rules(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        check_upgrade_refuses_bad_rows(engine)
    finally:
        engine.dispose()
