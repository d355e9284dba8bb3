"""Feed polling on a real PostgreSQL (127.0.0.1:5432): one bad feed never stops the others.

PostgreSQL is where issue 19 bit: 65,535 bound parameters per statement, and values too long for
their column (SQLite stores those).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline import flow
from pipeline.config import get_settings
from pipeline.feeds import FeedSpec
from pipeline.registry import REGISTRY_LOCK_KEY, sync_registry
from pipeline.warehouse import get_engine
from pipeline.warehouse.engine import write_lock
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import feed, source
from tests.hostile_server import HEALTHY_ENTRIES, hostile_serving
from tests.test_feeds import _polls, _stage_env, check_big_feed_beside_a_healthy_one

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    monkeypatch.setenv("MEDIAMON_WAREHOUSE_URL", pg_url)
    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    return engine


def test_hundred_thousand_entry_feed_beside_a_healthy_one_polls_on_postgres(
    pg_engine: sa.Engine, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wall = check_big_feed_beside_a_healthy_one(home, monkeypatch, pg_engine)
    assert wall < 120, wall
    pg_engine.dispose()


def test_registry_values_past_the_columns_never_reach_postgres(
    pg_engine: sa.Engine, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hostile_serving() as (base, _port, _log):
        registry = [
            {"url": f"{base}/ok-a.rss", "source": "A" * 201},
            {"url": f"{base}/ok-b.rss", "source": "B", "language": "x" * 17},
            {"url": f"{base}/dates.rss", "source": "Dates", "language": "en"},
        ]
        imported = _stage_env(home, registry, exit_code=2)
        counts = flow.poll_feeds("pg-reg-1", all_feeds=True)
    assert len(imported.stderr.strip().splitlines()) == 2, imported.stderr
    assert counts["feeds_registered"] == 1 and counts["by_status"] == {"ok": 1}
    # Past validation, the database's own refusal of one entry spares the others (savepoints).
    now = datetime.now(UTC)
    specs = [FeedSpec("http://a.test/rss", "S" * 201), FeedSpec("http://b.test/rss", "B")]
    with pg_engine.begin() as conn:
        write_lock(conn, REGISTRY_LOCK_KEY)
        synced = sync_registry(conn, specs, now=now)
    assert synced["feeds_registered"] == 1 and "not stored" in synced["feeds_failed"][0]
    with pg_engine.connect() as conn:
        assert "B" in set(conn.execute(sa.select(source.c.name)).scalars())
        assert "http://b.test/rss" in set(conn.execute(sa.select(feed.c.url)).scalars())
    pg_engine.dispose()


def test_a_feed_postgres_refuses_is_recorded_and_backed_off_while_the_others_go_on(
    pg_engine: sa.Engine, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_engine.begin() as conn:
        conn.execute(
            sa.text(
                "create function poison() returns trigger language plpgsql as $$ begin "
                "if new.url like '%/alpha/%' then raise exception 'poisoned entry'; end if; "
                "return new; end $$"
            )
        )
        conn.execute(
            sa.text(
                "create trigger poison before insert on article for each row "
                "execute function poison()"
            )
        )
    with hostile_serving() as (base, _port, _log):
        registry = [{"url": f"{base}{p}", "source": p} for p in ("/ok-a.rss", "/ok-b.rss")]
        _stage_env(home, registry)
        before = datetime.now(UTC)
        counts = flow.poll_feeds("pg-iso-1", all_feeds=True)
    assert counts["by_status"] == {"ok": 1, "parse_error": 1}, counts
    polls = _polls(pg_engine, "pg-iso-1")
    assert polls["ok-b.rss"].entries_new == HEALTHY_ENTRIES
    poisoned = polls["ok-a.rss"]
    assert "poll not recorded (5 entries)" in poisoned.error and "poisoned entry" in poisoned.error
    assert poisoned.failures == 1.0
    assert poisoned.next_poll_at - before > timedelta(seconds=6000)
    pg_engine.dispose()
