"""Warehouse on a real PostgreSQL (127.0.0.1:5432): migrations, upserts, a full ingest run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline import flow
from pipeline.config import get_settings
from pipeline.warehouse import get_engine, make_engine
from pipeline.warehouse.migrate import upgrade
from tests.conftest import import_feeds, reachable_ok_articles
from tests.warehouse_checks import check_migrations_up_down, check_upsert_idempotent

pytestmark = pytest.mark.postgres


def test_postgres_migrations_up_and_down(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        check_migrations_up_down(engine)
    finally:
        engine.dispose()


def test_postgres_upsert_idempotent(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        check_upsert_idempotent(engine)
    finally:
        engine.dispose()


def test_ingest_on_postgres_is_idempotent(
    pg_url: str, sample_feeds: Path, monkeypatch: pytest.MonkeyPatch, manifest: dict[str, Any]
) -> None:
    monkeypatch.setenv("MEDIAMON_WAREHOUSE_URL", pg_url)
    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    import_feeds(sample_feeds)  # the fixture registered them in the SQLite default
    flow.run_ingest("pg-run-1")
    first = flow.warehouse_summary(engine)
    assert first["articles_by_status"]["published"] == len(reachable_ok_articles(manifest))
    flow.run_ingest("pg-run-2")
    second = flow.warehouse_summary(engine)
    assert second["articles_by_status"] == first["articles_by_status"]
    for table in ("source", "feed", "article"):
        assert second["row_counts"][table] == first["row_counts"][table]
    engine.dispose()
