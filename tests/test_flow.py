"""The ingest stages end to end on the bundled corpus, without Airflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline import flow
from pipeline.urls import url_key
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article, feed_poll, pipeline_run
from tests.conftest import reachable_ok_articles, sample_feed_counts


@pytest.fixture
def warehouse(home: Path, sample_feeds: Path) -> sa.Engine:
    engine = get_engine()
    upgrade(engine)
    return engine


def _articles(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.url: r for r in conn.execute(sa.select(article))}


def test_ingest_loads_every_reachable_article_with_text(
    warehouse: sa.Engine, samples_base_url: str, manifest: dict[str, Any]
) -> None:
    counts = flow.run_ingest("run-1")
    rows = _articles(warehouse)
    expected_ok = reachable_ok_articles(manifest)
    for item in expected_ok:
        row = rows[f"{samples_base_url}/{item['path']}"]
        assert row.status == "published", (item["path"], row.failure_reason, row.error)
        assert row.text and len(row.text) > 200
        assert row.title and row.word_count > 50
        assert row.raw_key and row.content_hash
    # The planted failures are recorded with their reason, not dropped.
    missing = rows[f"{samples_base_url}/{manifest['missing'][0]['url_path']}"]
    assert (missing.status, missing.failure_reason) == ("fetch_failed", "http_404")
    no_text = [a for a in manifest["articles"] if a["expected"] == "no_text"]
    for item in no_text:
        row = rows[f"{samples_base_url}/{item['path']}"]
        assert (row.status, row.failure_reason) == ("extract_failed", "no_text")
    # Pages on disk that no parseable feed lists are never discovered.
    unreachable = [a for a in manifest["articles"] if not a["feed"]]
    assert unreachable
    for item in unreachable:
        assert f"{samples_base_url}/{item['path']}" not in rows
    stages = counts["stages"]
    parseable, broken = sample_feed_counts(manifest)
    assert stages["poll"]["by_status"] == {"ok": parseable, "parse_error": broken}
    assert stages["extract"]["extracted"] == len(expected_ok)
    assert set(stages) == {"poll", "fetch", "extract", "dedupe", "analyse", "gate"}


def test_tracking_parameters_do_not_create_duplicates(warehouse: sa.Engine) -> None:
    flow.run_ingest("run-1")
    urls = list(_articles(warehouse))
    assert not [u for u in urls if "utm_" in u]
    assert len({url_key(u) for u in urls}) == len(urls)


def test_second_run_is_idempotent(warehouse: sa.Engine, manifest: dict[str, Any]) -> None:
    flow.run_ingest("run-1")
    first = flow.warehouse_summary(warehouse)
    second_counts = flow.run_ingest("run-2")
    second = flow.warehouse_summary(warehouse)
    assert second["articles_by_status"] == first["articles_by_status"]
    for table in ("source", "feed", "article"):
        assert second["row_counts"][table] == first["row_counts"][table]
    # Unchanged feeds answer 304; the broken one is parsed (and fails) again, not hidden.
    parseable, broken = sample_feed_counts(manifest)
    assert second_counts["stages"]["poll"]["by_status"] == {
        "not_modified": parseable,
        "parse_error": broken,
    }
    assert second_counts["stages"]["fetch"]["fetched"] == 0
    # feed_poll is a log: one row per feed per run.
    assert second["row_counts"]["feed_poll"] == 2 * first["row_counts"]["feed"]


def test_rerunning_the_same_run_overwrites_its_own_rows(warehouse: sa.Engine) -> None:
    flow.run_ingest("run-1")
    with warehouse.connect() as conn:
        polls = conn.execute(sa.select(sa.func.count()).select_from(feed_poll)).scalar_one()
        stages = conn.execute(sa.select(sa.func.count()).select_from(pipeline_run)).scalar_one()
    flow.run_ingest("run-1")
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(feed_poll)).scalar_one() == polls
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(pipeline_run)).scalar_one()
            == stages
        )
        statuses = set(conn.execute(sa.select(pipeline_run.c.status)).scalars())
    assert statuses == {"success"}


def test_failed_fetch_is_retried_when_due_and_then_succeeds(
    warehouse: sa.Engine, samples_base_url: str, home: Path
) -> None:
    flow.run_ingest("run-1")
    url = f"{samples_base_url}/meridian-post/2026/10/ceasefire-talks-stall.html"
    # Simulate a transient failure recorded earlier, whose retry time has come.
    with warehouse.begin() as conn:
        conn.execute(
            sa.update(article)
            .where(article.c.url == url)
            .values(
                status="fetch_failed",
                failure_reason="timeout",
                attempts=1,
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
                text=None,
            )
        )
    counts = flow.fetch_articles("run-2")
    assert counts["fetched"] == 1
    flow.extract_articles("run-2")
    row = _articles(warehouse)[url]
    assert row.status == "extracted" and row.text and row.attempts == 2
    assert row.failure_reason is None


def test_failed_fetch_not_yet_due_is_left_alone(
    warehouse: sa.Engine, samples_base_url: str
) -> None:
    flow.run_ingest("run-1")
    url = f"{samples_base_url}/meridian-post/2026/10/ceasefire-talks-stall.html"
    later = datetime.now(UTC) + timedelta(hours=1)
    with warehouse.begin() as conn:
        conn.execute(
            sa.update(article)
            .where(article.c.url == url)
            .values(status="fetch_failed", failure_reason="timeout", next_attempt_at=later)
        )
    assert flow.fetch_articles("run-2")["fetched"] == 0
    assert _articles(warehouse)[url].status == "fetch_failed"


def test_a_failing_stage_is_recorded_as_failed(
    warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    from pipeline.config import get_settings

    monkeypatch.setenv("MEDIAMON_FEEDS_FILE", str(home / "does-not-exist.yaml"))
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="cannot read feed registry"):
        flow.poll_feeds("run-x")
    with warehouse.connect() as conn:
        row = conn.execute(sa.select(pipeline_run).where(pipeline_run.c.run_id == "run-x")).one()
    assert row.status == "failed" and "cannot read feed registry" in row.error
