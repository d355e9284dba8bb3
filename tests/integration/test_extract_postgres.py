"""Fetch, extraction and re-extraction on a real PostgreSQL warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import get_settings
from pipeline.warehouse import get_engine
from tests.test_extract import check_reextract

pytestmark = pytest.mark.postgres


def test_reextract_on_postgres(pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAMON_WAREHOUSE_URL", pg_url)
    get_settings.cache_clear()
    engine = get_engine()
    try:
        check_reextract(engine)
    finally:
        engine.dispose()
