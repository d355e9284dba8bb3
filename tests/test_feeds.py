"""Feed polling against the bundled corpus and the hostile server: statuses, bounds, health."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from pipeline import flow
from pipeline import registry as warehouse_registry
from pipeline.config import Settings, get_settings
from pipeline.feeds import (
    FeedSpec,
    FeedState,
    PollResult,
    Registry,
    export_opml,
    import_opml,
    next_health,
    parse_feed,
    poll_feed,
)
from pipeline.http import SafeClient
from pipeline.stages import poll as poll_stage
from pipeline.warehouse import get_engine
from pipeline.warehouse.engine import write_lock
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article, feed, feed_poll, pipeline_run
from tests.conftest import import_feeds
from tests.hostile_server import CASES, HEALTHY_ENTRIES, hostile_serving

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
FAST = Settings(
    allow_private_networks=True,
    host_min_interval=0,
    http_total_timeout=5,
    http_read_timeout=3,
    http_connect_timeout=2,
)

# Runs the poll stage in a child process so its peak memory is measured alone. Names under
# .hostile.test resolve to the loopback server; every other name goes through the real guard.
_CHILD = """
import json, sys, time
import pipeline.http as h
real = h.resolve_checked
def resolve(host, port, *, allow_private):
    if host.endswith(".hostile.test"):
        return ["127.0.0.1"]
    return real(host, port, allow_private=allow_private)
h.resolve_checked = resolve
from pipeline import flow
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
upgrade(get_engine())
t = time.monotonic()
counts = flow.poll_feeds(sys.argv[1], all_feeds=True)
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child of a
# big pytest process would report its parent's peak; VmHWM belongs to this address space.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
              if line.startswith("VmHWM:"))
print(json.dumps({"counts": counts, "wall_s": time.monotonic() - t, "maxrss_mb": hwm_kb / 1024}))
"""


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace(".", "-")


def test_hostile_set_is_bounded_in_time_and_memory_and_spares_healthy_feeds(
    tmp_path: Path,
) -> None:
    with hostile_serving() as (_base, port, _log):
        specs = [{"url": f"http://{_slug(p)}.hostile.test:{port}{p}", "source": p} for p in CASES]
        (tmp_path / "feeds.yaml").write_text(yaml.safe_dump({"feeds": specs}))
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MEDIAMON_", "AIRFLOW_CONN"))
        } | {
            "MEDIAMON_HOME": str(tmp_path),
            # The guard is ON: the loopback redirect must be refused at its hop.
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "false",
            "MEDIAMON_HTTP_TOTAL_TIMEOUT": "5",
            "MEDIAMON_HTTP_READ_TIMEOUT": "3",
            "MEDIAMON_HTTP_CONNECT_TIMEOUT": "2",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
        }
        # Registered as an operator does; the child then polls what the warehouse holds.
        import_feeds(tmp_path / "feeds.yaml", env=env)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, "hostile-1"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["maxrss_mb"] < 300, report
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        polls = {
            r.url.split(str(port), 1)[1]: r
            for r in conn.execute(
                sa.select(feed.c.url, feed_poll).join(feed, feed.c.id == feed_poll.c.feed_id)
            )
        }
        by_feed = dict(
            conn.execute(sa.select(article.c.url, article.c.feed_published_at)).tuples().all()
        )
        titles = dict(conn.execute(sa.select(article.c.url, article.c.feed_title)).tuples().all())
        longest_title = conn.execute(sa.select(sa.func.max(sa.func.length(article.c.feed_title))))
        longest_title = longest_title.scalar_one()
    engine.dispose()
    assert set(polls) == set(CASES)
    for path, (_handler, allowed) in CASES.items():
        row = polls[path]
        assert row.status in allowed, (path, row.status, row.error)
        assert row.duration_ms < 15_000, (path, row.duration_ms)
        if row.status not in ("ok", "not_modified"):
            assert row.error and len(row.error) > 10, (path, row.error)
    # Healthy feeds keep all their entries, tracking parameters stripped.
    for name in ("alpha", "beta"):
        urls = [u for u in by_feed if f"/{name}/" in u]
        assert len(urls) == HEALTHY_ENTRIES, urls
        assert not [u for u in urls if "utm_" in u or "fbclid" in u]
    assert polls["/ok-a.rss"].warning is None
    # Specific, clear error texts.
    assert "cap" in polls["/gzip-bomb.rss"].error
    assert "cap" in polls["/endless.rss"].error
    assert "total deadline" in polls["/slowloris.rss"].error
    assert "total deadline" in polls["/slow-headers.rss"].error
    assert "redirects" in polls["/loop/0"].error
    assert "loopback" in polls["/to-loopback.rss"].error
    assert "169.254.169.254" in polls["/to-metadata.rss"].error
    assert "Retry-After 120" in polls["/429.rss"].error
    # Entity bombs are defused (no expansion): at most the raw entry survives, with a warning.
    for path in ("/billion-laughs.rss", "/quadratic.rss"):
        assert polls[path].status == "parse_error" or polls[path].warning, path
    assert longest_title <= 1000  # clipped; and never expanded
    # Impossible and missing dates are stored as null, never invented, and warned about.
    dates = {u.rsplit("/", 1)[1]: d for u, d in by_feed.items() if "/dates/" in u}
    assert dates == {
        "future.html": None,
        "ancient.html": None,
        "garbage.html": None,
        "none.html": None,
    }
    assert "outside [1990" in polls["/dates.rss"].warning
    # A wrong declared charset does not turn the text into mojibake.
    assert "body is UTF-8" in polls["/wrong-charset.rss"].warning
    assert titles["http://hostile.test/charset/a.html"] == "Kyiv – Київ"
    assert polls["/gzip-bomb.rss"].bytes > 0  # what was read before the cap is accounted


def test_parse_feed_never_reads_a_local_file_named_by_the_body(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_text(
        '<rss version="2.0"><channel><item><link>http://x.test/leak</link></item></channel></rss>'
    )
    parsed = parse_feed(str(secret).encode(), url="http://x.test/feed", now=NOW)
    assert parsed.entries == [] and parsed.error


def test_html_page_is_a_parse_error_and_bozo_with_entries_is_kept() -> None:
    html = b"<html><head><title>x</title></head><body><p>page</p></body></html>"
    assert parse_feed(html, url="u", now=NOW).error
    bozo = (
        b'<rss version="2.0"><channel><title>a & b</title><item><title>t</title>'
        b"<link>http://x.test/a?utm_source=rss</link></item></channel></rss>"
    )
    parsed = parse_feed(bozo, url="u", now=NOW)
    assert parsed.error is None and parsed.warnings
    assert [e.url for e in parsed.entries] == ["http://x.test/a"]


def test_sy_update_period_sets_the_first_interval() -> None:
    body = (
        b'<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
        b"<title>t</title><sy:updatePeriod>daily</sy:updatePeriod>"
        b"<sy:updateFrequency>4</sy:updateFrequency>"
        b"<item><link>http://x.test/1</link></item></channel></rss>"
    )
    assert parse_feed(body, url="u", now=NOW).update_period_s == 6 * 3600


def _result(status: str, *, entries: int = 0, failure: str | None = None, **kw: Any) -> PollResult:
    from pipeline.feeds import Entry

    items = [Entry(f"http://x.test/{i}", None, None, None, None) for i in range(entries)]
    return PollResult(
        status=status, http_status=kw.pop("http", 200), entries=items, failure=failure, **kw
    )


def test_interval_adapts_to_the_share_of_known_entries() -> None:
    s = Settings()
    rng = random.Random(1)
    common = {
        "previous_status": "ok",
        "failures": 0.0,
        "fixed_interval_s": None,
        "now": NOW,
        "settings": s,
        "rng": rng,
    }
    mostly_known = next_health(
        interval_s=3600, result=_result("ok", entries=10), entries_new=1, **common
    )
    mostly_new = next_health(
        interval_s=3600, result=_result("ok", entries=10), entries_new=9, **common
    )
    middle = next_health(interval_s=3600, result=_result("ok", entries=10), entries_new=5, **common)
    assert mostly_known.poll_interval_s == 5400
    assert mostly_new.poll_interval_s == 1800
    assert middle.poll_interval_s == 3600
    floor = next_health(interval_s=600, result=_result("ok", entries=10), entries_new=10, **common)
    ceiling = next_health(interval_s=86400, result=_result("not_modified"), entries_new=0, **common)
    assert (floor.poll_interval_s, ceiling.poll_interval_s) == (600, 86400)
    # Jitter: the next poll is within +-10 % of the interval.
    delay = (mostly_known.next_poll_at - NOW).total_seconds()
    assert 5400 * 0.9 <= delay <= 5400 * 1.1


def test_failures_are_weighted_and_the_threshold_disables_but_rechecks_daily() -> None:
    s = Settings()
    common = {
        "previous_status": "ok",
        "interval_s": 3600,
        "fixed_interval_s": None,
        "now": NOW,
        "settings": s,
        "entries_new": 0,
    }
    hard = next_health(failures=0, result=_result("http_error", failure="hard", http=404), **common)
    soft = next_health(failures=0, result=_result("http_error", failure="soft", http=500), **common)
    temp = next_health(
        failures=0, result=_result("timeout", failure="temporary", http=None), **common
    )
    assert (hard.failures, soft.failures, temp.failures) == (1.0, 0.5, 0.25)
    dead = next_health(
        failures=29.5, result=_result("http_error", failure="soft", http=500), **common
    )
    assert dead.status == "disabled"
    assert dead.next_poll_at == NOW + timedelta(seconds=s.feed_undead_interval)
    revived = next_health(failures=30, result=_result("ok", entries=3), **common)
    assert (revived.status, revived.failures) == ("ok", 0.0)
    gone = next_health(
        failures=0, result=_result("disabled", failure="hard", http=410, gone=True), **common
    )
    assert gone.status == "disabled"


def test_conditional_get_second_poll_transfers_no_body(samples_base_url: str) -> None:
    url = f"{samples_base_url}/feeds/meridian-post.rss"
    with SafeClient(FAST) as client:
        first = poll_feed(FeedState(url), client, now=NOW)
        assert first.status == "ok" and first.entries and first.bytes > 0
        again = poll_feed(
            FeedState(url, first.etag, first.last_modified, first.body_hash), client, now=NOW
        )
    assert (again.status, again.http_status, again.bytes) == ("not_modified", 304, 0)


def test_stale_etag_is_caught_by_the_body_hash() -> None:
    with hostile_serving() as (base, _port, _log), SafeClient(FAST) as client:
        first = poll_feed(FeedState(f"{base}/stale-etag.rss"), client, now=NOW)
        second = poll_feed(
            FeedState(f"{base}/stale-etag.rss", first.etag, None, first.body_hash), client, now=NOW
        )
    assert first.status == "ok" and second.http_status == 200
    assert second.status == "not_modified" and second.etag != first.etag  # new validators kept


def test_failed_parse_keeps_the_old_validators(samples_base_url: str) -> None:
    url = f"{samples_base_url}/feeds/lakeside-courier.rss"
    with SafeClient(FAST) as client:
        result = poll_feed(FeedState(url, '"old"', None, "oldhash"), client, now=NOW)
    assert result.status == "parse_error"
    assert (result.etag, result.body_hash) == ('"old"', "oldhash")


def _stage_env(home: Path, registry: list[dict[str, Any]], *, exit_code: int = 0) -> Any:
    """Make the warehouse's registry exactly ``registry``: written as a feeds.yaml, imported
    with `mediamon feeds import --replace`. Returns the command's result."""
    (home / "feeds.yaml").write_text(yaml.safe_dump({"feeds": registry}))
    return import_feeds(home / "feeds.yaml", "--replace", exit_code=exit_code)


def test_poll_stage_follows_301_disables_410_and_schedules_by_health(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hostile_serving() as (base, _port, _log):
        # The 429 feed is on another host name (same server), so its pause cannot defer the rest.
        paused = base.replace("127.0.0.1", "localhost")
        registry = [
            {"url": f"{base}{p}", "source": p} for p in ("/moved.rss", "/410.rss", "/ok-a.rss")
        ]
        registry.append({"url": f"{paused}/429.rss", "source": "429"})
        _stage_env(home, registry)
        engine = get_engine()
        upgrade(engine)
        counts = flow.poll_feeds("r1")
        assert counts["by_status"] == {"ok": 2, "disabled": 1, "http_error": 1}
        # Nothing is due right after: a scheduled run polls nothing.
        assert flow.poll_feeds("r2")["feeds_polled"] == 0
        with engine.connect() as conn:
            rows = {r.url.rsplit("/", 1)[1]: r for r in conn.execute(sa.select(feed))}
    assert rows["moved.rss"].poll_url == f"{base}/ok-b.rss"
    assert rows["410.rss"].status == "disabled" and rows["410.rss"].failures >= 30
    # Every entry was new: poll twice as often as the 1 h default.
    assert rows["ok-a.rss"].poll_interval_s == 1800 and rows["ok-a.rss"].failures == 0
    assert rows["429.rss"].failures == 0.25
    wait = rows["429.rss"].next_poll_at.replace(tzinfo=UTC) - datetime.now(UTC)
    assert wait > timedelta(seconds=100)  # Retry-After: 120 honoured


def test_opml_round_trip() -> None:
    specs = [
        FeedSpec("http://a.test/rss", "A", "en", ("war", "world")),
        FeedSpec("http://b.test/atom", "B"),
    ]
    assert import_opml(export_opml(specs)) == Registry(specs)


def test_feeds_cli_add_list_poll_export(
    home: Path, samples_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    url = f"{samples_base_url}/feeds/meridian-post.rss"
    out = runner.invoke(app, ["feeds", "add", url, "--source", "Meridian Post", "--tag", "war"])
    assert out.exit_code == 0, out.output
    assert runner.invoke(app, ["feeds", "add", url, "--source", "X"]).exit_code == 2
    assert "never polled" in runner.invoke(app, ["feeds", "list"]).output
    polled = runner.invoke(app, ["feeds", "poll", "--format", "json"])
    assert polled.exit_code == 0, polled.output
    [result] = json.loads(polled.output)
    assert result["status"] == "ok" and result["entries_new"] == result["entries_seen"] > 0
    again = runner.invoke(app, ["feeds", "poll"])
    assert "no feed was due" in again.output
    forced = runner.invoke(app, ["feeds", "poll", "--all"])
    assert "not_modified" in forced.output and "http=304" in forced.output
    listing = runner.invoke(app, ["feeds", "list"]).output
    assert "Meridian Post" in listing and "1/2 (50%)" in listing
    opml = runner.invoke(app, ["feeds", "export-opml"]).output
    assert url in opml
    (home / "in.opml").write_text(opml.replace(url, url + "?copy=1"))
    assert runner.invoke(app, ["feeds", "import-opml", str(home / "in.opml")]).exit_code == 0
    removed = runner.invoke(app, ["feeds", "remove", url])
    assert removed.exit_code == 0 and "1 feeds" in removed.output, removed.output
    assert runner.invoke(app, ["feeds", "remove", url]).exit_code == 2
    # The registry is the warehouse's: what list and export-opml show, no file anywhere.
    listed = json.loads(runner.invoke(app, ["feeds", "list", "--format", "json"]).output)
    assert [f["url"] for f in listed] == [url + "?copy=1"]
    exported = import_opml(runner.invoke(app, ["feeds", "export-opml"]).stdout.encode())
    assert [s.url for s in exported.specs] == [url + "?copy=1"]
    assert not (home / "feeds.yaml").exists()
    # Removing a feed keeps its polls; adding it again brings back its row and health.
    assert runner.invoke(app, ["feeds", "add", url, "--source", "Meridian Post"]).exit_code == 0
    with get_engine().connect() as conn:
        row = conn.execute(sa.select(feed).where(feed.c.url == url)).one()
    assert row.enabled and row.last_polled_at is not None


def test_demo_report_shows_health_table(home: Path, sample_feeds: Path) -> None:
    from pipeline.feeds import demo_report

    engine = get_engine()
    upgrade(engine)
    flow.poll_feeds("d1", all_feeds=True)
    flow.poll_feeds("d2", all_feeds=True)
    text = demo_report(engine)
    n = len(yaml.safe_load(sample_feeds.read_text())["feeds"])
    assert f"Feed health ({n} feeds, {2 * n} polls" in text
    assert "parse_error" in text and "not_modified" in text
    assert time.time() > 0


# --- issue 19: one bad feed or registry entry never stops the others -------------------------

BIG_ENTRIES = 100_000


def _big_feed(entries: int) -> bytes:
    """A valid RSS feed of ``entries`` minimal items (about 50 bytes each, under the byte cap)."""
    items = b"".join(
        b"<item><link>http://big.test/story/%d.html</link></item>" % i for i in range(entries)
    )
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
        + items
        + (b"</channel></rss>")
    )


def _nested_feed(depth: int) -> bytes:
    """The feed of issue 19: ``depth`` nested elements in a channel (7 MB for 10^6)."""
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>deep</title>'
        + b"<a>" * depth
        + b"</a>" * depth
        + b"</channel></rss>"
    )


def _site(home: Path, files: dict[str, bytes]) -> Path:
    site = home / "site"
    site.mkdir(exist_ok=True)
    for name, body in files.items():
        (site / name).write_bytes(body)
    return site


def _polls(engine: sa.Engine, run_id: str) -> dict[str, Any]:
    """The run's feed_poll rows joined with their feed, by the feed URL's last path segment."""
    query = (
        sa.select(feed_poll, feed.c.url, feed.c.failures, feed.c.next_poll_at, feed.c.etag)
        .join(feed, feed.c.id == feed_poll.c.feed_id)
        .where(feed_poll.c.run_id == run_id)
    )
    with engine.connect() as conn:
        return {r.url.rsplit("/", 1)[1]: r for r in conn.execute(query)}


def check_big_feed_beside_a_healthy_one(
    home: Path, monkeypatch: pytest.MonkeyPatch, engine: sa.Engine
) -> float:
    """Poll a 100,000-entry feed beside a healthy one on ``engine``: both polled, every entry of
    the big one recorded, a second poll answered 304. Returns the first poll's wall time (s)."""
    from pipeline.samples import serving
    from tests.hostile_server import healthy

    site = _site(home, {"big.rss": _big_feed(BIG_ENTRIES), "healthy.rss": healthy("alpha")})
    with serving(site) as base:
        registry = [
            {"url": f"{base}/big.rss", "source": "Big Outlet"},
            {"url": f"{base}/healthy.rss", "source": "Healthy Outlet"},
        ]
        _stage_env(home, registry)
        started = time.monotonic()
        counts = flow.poll_feeds("big-1", all_feeds=True)
        wall = time.monotonic() - started
        again = flow.poll_feeds("big-2", all_feeds=True)
    # (ok or not_modified: the healthy feeds' dates follow the clock, so their bytes may change.)
    assert counts["feeds_polled"] == 2 and set(counts["by_status"]) <= {"ok", "not_modified"}, (
        counts
    )
    assert counts["articles_new"] == BIG_ENTRIES + HEALTHY_ENTRIES
    polls = _polls(engine, "big-1")
    assert polls["big.rss"].entries_seen == polls["big.rss"].entries_new == BIG_ENTRIES
    assert polls["healthy.rss"].entries_new == HEALTHY_ENTRIES
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(article)).scalar_one()
    assert stored == BIG_ENTRIES + HEALTHY_ENTRIES
    assert again["by_status"] == {"not_modified": 2}, again
    return wall


def _stock_sqlite_limit(dbapi_conn: Any, _record: Any) -> None:
    # Debian builds SQLite with 250,000 bound variables; stock builds (3.32+) allow 32,766.
    dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)


def test_hundred_thousand_entry_feed_beside_a_healthy_one_polls_on_sqlite(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine()
    upgrade(engine)
    sa.event.listen(engine, "connect", _stock_sqlite_limit)
    engine.dispose()  # new connections get the stock limit
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None and raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == 32_766
    wall = check_big_feed_beside_a_healthy_one(home, monkeypatch, engine)
    assert wall < 120, wall


def test_sync_registry_chunks_a_registry_larger_than_the_parameter_limit(
    home: Path,
) -> None:
    engine = get_engine()
    upgrade(engine)
    sa.event.listen(engine, "connect", _stock_sqlite_limit)
    engine.dispose()
    specs = [FeedSpec(f"http://feeds.test/{i}.rss", f"Outlet {i % 50}") for i in range(40_000)]
    with engine.begin() as conn:
        write_lock(conn, warehouse_registry.REGISTRY_LOCK_KEY)
        first = warehouse_registry.sync_registry(conn, specs, now=NOW)
    with engine.begin() as conn:
        write_lock(conn, warehouse_registry.REGISTRY_LOCK_KEY)
        second = warehouse_registry.sync_registry(conn, specs[:5], now=NOW)
    assert first == {"feeds_registered": 40_000, "feeds_removed": 0}
    assert second == {"feeds_registered": 5, "feeds_removed": 39_995}
    # The import path a user takes: merging adds, replacing disables what is not listed.
    merged = warehouse_registry.import_feeds(engine, specs[:10])
    assert (merged.added, merged.listed, merged.removed) == (5, 5, 0)
    replaced = warehouse_registry.import_feeds(engine, specs[5:10], replace=True)
    assert (replaced.added, replaced.listed, replaced.removed) == (0, 5, 5)
    with engine.connect() as conn:
        assert warehouse_registry.registered_specs(conn) == specs[5:10]


REGISTRY_WITH_BAD_ENTRIES = """\
feeds:
  - url: http://good.test/a.rss
    source: Good A
    tags: [war]
  - url: http://long.test/rss
    source: {long_source}
  - url: http://lang.test/rss
    source: Lang
    language: en-GB-oxendict-x-private
  - url: javascript:alert(1)
    source: Script
  - url: file:///etc/passwd
    source: File
  - url: http://negative.test/rss
    source: Negative
    interval: -5
  - url: http://word.test/rss
    source: Word
    interval: hourly
  - url: http://bool.test/rss
    source: Bool
    interval: true
  - url: http://good.test/a.rss
    source: Twice
  - url: http://nosource.test/rss
  - url: http://nested.test/rss
    source: Nested
    tags: [[a, b]]
  - just a string
  - url: http://good.test/b.rss
    source: Good B
    interval: 3600
"""


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_registry_refuses_each_bad_entry_with_its_line_and_keeps_the_rest(tmp_path: Path) -> None:
    from pipeline.feeds import load_registry

    text = REGISTRY_WITH_BAD_ENTRIES.format(long_source="S" * 201)
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    registry = load_registry(path, settings=Settings())
    assert registry.specs == [
        FeedSpec("http://good.test/a.rss", "Good A", None, ("war",)),
        FeedSpec("http://good.test/b.rss", "Good B", interval_s=3600),
    ]
    refused = {r.where.rsplit(" ", 1)[1]: r for r in registry.refused}
    expected = {
        "S" * 201: "source is 201 characters long; at most 200",
        "en-GB-oxendict": "language is 24 characters long; at most 16",
        "javascript:": "only http and https",
        "file:///etc": "only http and https",
        "interval: -5": "interval -5 s is outside [600, 86400]",
        "interval: hourly": "whole number of seconds",
        "interval: true": "whole number of seconds",
        "source: Twice": "listed twice (first on line 2)",
        "http://nosource.test": "source is missing",
        "tags: [[a, b]]": "tag must be text",
        "just a string": "must be a mapping",
    }
    for needle, reason in expected.items():
        line = _line(text, needle)
        # The duplicate is pointed at by its url line, the missing source by the entry's.
        line = line - 1 if needle == "source: Twice" else line
        assert str(line) in refused, (needle, line, [str(r) for r in registry.refused])
        assert reason in refused[str(line)].reason, (needle, refused[str(line)])
    assert len(registry.refused) == len(expected)
    assert refused[str(_line(text, "javascript:"))].url == "javascript:alert(1)"


OPML_WITH_BAD_OUTLINES = """\
<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="News">
  <outline type="rss" text="Good" xmlUrl="http://good.test/rss" language="en"/>
  <outline type="rss" text="Script" xmlUrl="javascript:alert(document.cookie)"/>
  <outline type="rss" text="Local" xmlUrl="file:///etc/passwd"/>
  <outline type="rss" text="{long}" xmlUrl="http://long.test/rss"/>
  <outline type="rss" text="Lang" xmlUrl="http://lang.test/rss" language="{long_lang}"/>
  <outline type="rss" text="Also good" xmlUrl="https://good.test/atom" category="war,/world"/>
</outline>
</body></opml>
"""


def test_opml_import_refuses_bad_outlines_with_their_line_and_imports_the_rest() -> None:
    text = OPML_WITH_BAD_OUTLINES.format(long="L" * 250, long_lang="x" * 17)
    registry = import_opml(text.encode())
    assert registry.specs == [
        FeedSpec("http://good.test/rss", "Good", "en"),
        FeedSpec("https://good.test/atom", "Also good", None, ("war", "world")),
    ]
    where = {r.url: r for r in registry.refused}
    assert set(where) == {
        "javascript:alert(document.cookie)",
        "file:///etc/passwd",
        "http://long.test/rss",
        "http://lang.test/rss",
    }
    assert str(where["file:///etc/passwd"]).startswith(f"line {_line(text, 'file:')}, outline 4:")
    assert "only http and https" in where["javascript:alert(document.cookie)"].reason
    assert "source is 250 characters long" in where["http://long.test/rss"].reason
    assert "language is 17 characters long" in where["http://lang.test/rss"].reason


def _cli(home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from typer.testing import CliRunner

    get_settings.cache_clear()
    return CliRunner()


def _registered_urls(runner: Any) -> list[str]:
    from pipeline.cli import app

    listing = runner.invoke(app, ["feeds", "list", "--format", "json"])
    assert listing.exit_code == 0, listing.output
    return [f["url"] for f in json.loads(listing.stdout)]


def _refused_once(result: Any) -> str:
    """The one stderr line of a refused command (exit 2, no traceback)."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line: str = lines[0]
    return line


def test_feeds_cli_refuses_bad_values_with_one_line_and_exit_2(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import app

    runner = _cli(home, monkeypatch)
    bad = [
        (["feeds", "add", "http://a.test/rss", "--source", "S" * 201], "201 characters"),
        (["feeds", "add", "http://a.test/rss", "--source", "A", "--language", "x" * 17], "17"),
        (["feeds", "add", "javascript:alert(1)", "--source", "A"], "only http and https"),
        (["feeds", "add", "file:///etc/passwd", "--source", "A"], "only http and https"),
        (["feeds", "add", "http://a.test/rss", "--source", "A", "--interval", "-5"], "[600,"),
        (["feeds", "add", "http://a.test/rss", "--source", "A", "--interval", "5"], "[600,"),
    ]
    for args, reason in bad:
        line = _refused_once(runner.invoke(app, args))
        assert reason in line, (args, line)
    assert _registered_urls(runner) == []
    ok = runner.invoke(app, ["feeds", "add", "http://a.test/rss", "--source", "A"])
    assert ok.exit_code == 0, ok.output
    # OPML: the bad outlines are refused one line each, with their line; the rest imported.
    opml = home / "in.opml"
    opml.write_text(OPML_WITH_BAD_OUTLINES.format(long="L" * 250, long_lang="x" * 17))
    imported = runner.invoke(app, ["feeds", "import-opml", str(opml)])
    assert imported.exit_code == 2, imported.output
    refusals = imported.stderr.strip().splitlines()
    assert len(refusals) == 4 and all(" line " in r and "outline" in r for r in refusals)
    assert "imported 2 feeds" in imported.stdout and "4 refused" in imported.stdout
    urls = _registered_urls(runner)  # (listed by source: A, Also good, Good)
    assert urls == ["http://a.test/rss", "https://good.test/atom", "http://good.test/rss"]
    # Importing the same list again merges: nothing new, nothing lost, the same refusals.
    again = runner.invoke(app, ["feeds", "import-opml", str(opml)])
    assert again.exit_code == 2 and "imported 0 feeds (2 already listed, 4 refused)" in again.stdout
    assert _registered_urls(runner) == urls
    # A file that is not a registry at all changes nothing: one line, exit 2.
    (home / "broken.yaml").write_text("feeds:\n  - url: [unclosed\n")
    broken = _refused_once(runner.invoke(app, ["feeds", "import", str(home / "broken.yaml")]))
    assert "broken.yaml line" in broken, broken
    assert _registered_urls(runner) == urls


def test_import_replace_keeps_a_refused_feed_as_it_was_and_polls_the_valid_ones(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hostile_serving() as (base, _port, _log):
        good = [
            {"url": f"{base}/ok-a.rss", "source": "A"},
            {"url": f"{base}/ok-b.rss", "source": "B"},
        ]
        _stage_env(home, good)
        engine = get_engine()
        assert flow.poll_feeds("v1", all_feeds=True)["by_status"] == {"ok": 2}
        # B's entry goes bad (an over-long source, a negative interval), and a new bad one appears.
        bad = [
            good[0],
            {"url": f"{base}/ok-b.rss", "source": "B" * 300, "interval": -5},
            {"url": "javascript:alert(1)", "source": "X"},
        ]
        result = _stage_env(home, bad, exit_code=2)
        counts = flow.poll_feeds("v2", all_feeds=True)
    # Each refusal one line on stderr with its line; the rest imported; B not disabled.
    refused = result.stderr.strip().splitlines()
    assert len(refused) == 2 and "line 5: source is 300" in refused[0], refused
    assert "(1 already listed, 2 refused)" in result.stdout
    assert "disabled 0 not listed" in result.stdout
    # B keeps its last good registration and is still polled; nothing bad reached the database.
    # (ok or not_modified: the healthy feeds' dates follow the clock, so their bytes may change.)
    assert counts["feeds_registered"] == 2
    assert counts["feeds_polled"] == 2 and set(counts["by_status"]) <= {"ok", "not_modified"}
    with engine.connect() as conn:
        rows = {r.url.rsplit("/", 1)[1]: r for r in conn.execute(sa.select(feed))}
    assert rows["ok-b.rss"].enabled and rows["ok-b.rss"].interval_s is None
    assert len(rows) == 2


def test_a_feed_that_fails_is_recorded_and_backed_off_while_the_others_go_on(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hostile_serving() as (base, _port, _log):
        registry = [
            {"url": f"{base}{p}", "source": p} for p in ("/ok-a.rss", "/ok-b.rss", "/dates.rss")
        ]
        _stage_env(home, registry)
        engine = get_engine()
        upgrade(engine)
        # The database refuses feed A's articles (as PostgreSQL refused over-long values).
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "create trigger poison before insert on article when new.url like '%/alpha/%' "
                "begin select raise(abort, 'poisoned entry'); end"
            )
        # And polling the dates feed raises: a bug that one feed trips.
        real = poll_stage.poll_feed

        def flaky(state: FeedState, client: SafeClient, *, now: datetime) -> PollResult:
            if state.url.endswith("/dates.rss"):
                raise RuntimeError("parser bug")
            return real(state, client, now=now)

        monkeypatch.setattr(poll_stage, "poll_feed", flaky)
        before = datetime.now(UTC)
        counts = flow.poll_feeds("iso-1", all_feeds=True)
    assert counts["by_status"] == {"ok": 1, "parse_error": 2}, counts
    assert counts["articles_new"] == HEALTHY_ENTRIES
    polls = _polls(engine, "iso-1")
    assert polls["ok-b.rss"].status == "ok" and polls["ok-b.rss"].entries_new == HEALTHY_ENTRIES
    poisoned, raised = polls["ok-a.rss"], polls["dates.rss"]
    assert poisoned.status == "parse_error" and poisoned.entries_new == 0
    assert "poll not recorded (5 entries)" in poisoned.error and "poisoned entry" in poisoned.error
    assert raised.error == "poll failed: RuntimeError: parser bug"
    for row in (poisoned, raised):
        # A hard failure: one point, next poll after two intervals (1 h default) +-10 % jitter.
        assert row.failures == 1.0
        assert row.next_poll_at.replace(tzinfo=UTC) - before > timedelta(seconds=6000)
        assert row.etag is None  # validators not taken from a poll that was not recorded
    with engine.connect() as conn:
        statuses = set(conn.execute(sa.select(pipeline_run.c.status)).scalars())
    assert statuses == {"success"}


# The classic "billion laughs" in YAML: nine lines of nine aliases, 10^9 "lol"s once expanded.
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
feeds:
  - url: {base}/ok-a.rss
    source: Fine
  - url: http://bomb.test/rss
    source: Bomb
    tags: *i
  - url: http://bomb.test/other.rss
    source: *i
"""


def test_yaml_alias_bomb_is_refused_in_under_a_second(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracemalloc

    from pipeline.cli import app
    from pipeline.feeds import load_registry

    path = home / "feeds.yaml"
    path.write_text(BILLION_LAUGHS.format(base="http://fine.test"))
    assert len(path.read_bytes()) < 600
    tracemalloc.start()
    started = time.monotonic()
    registry = load_registry(path, settings=Settings())
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 20 * 2**20, (elapsed, peak)
    assert [s.url for s in registry.specs] == ["http://fine.test/ok-a.rss"]
    assert [str(r) for r in registry.refused] == [
        f"{path} line {n}: the entry expands to more than 1000 YAML nodes (an alias bomb?); "
        "not read"
        for n in (13, 16)
    ]
    # Aliases within reason still work: shared tags, and an entry repeated through an alias is
    # refused as listed twice, cheaply (a shared node is measured and built once).
    path.write_text(
        "feeds:\n  - &e {url: 'http://a.test/rss', source: A, tags: &t [war, world]}\n"
        "  - {url: 'http://b.test/rss', source: B, tags: *t}\n" + "  - *e\n" * 20_000
    )
    started = time.monotonic()
    registry = load_registry(path, settings=Settings())
    assert time.monotonic() - started < 5
    assert [s.tags for s in registry.specs] == [("war", "world")] * 2
    assert len(registry.refused) == 20_000 and "listed twice" in registry.refused[0].reason
    # The import refuses the bombs (one line each) and registers the other feed, polled alone.
    with hostile_serving() as (base, _port, _log):
        path.write_text(BILLION_LAUGHS.format(base=base))
        started = time.monotonic()
        imported = import_feeds(path, exit_code=2)
        counts = flow.poll_feeds("bomb-1", all_feeds=True)
        assert time.monotonic() - started < 10
    assert imported.stderr.count("alias bomb") == 2
    assert counts["by_status"] == {"ok": 1}
    listing = _cli(home, monkeypatch).invoke(app, ["feeds", "list"])
    assert listing.exit_code == 0 and "Fine" in listing.stdout


def test_feed_of_a_million_nested_elements_is_a_quick_parse_error_beside_a_healthy_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.samples import serving
    from tests.hostile_server import healthy

    site = _site(home, {"nested.rss": _nested_feed(10**6), "healthy.rss": healthy("alpha")})
    with serving(site) as base:
        registry = [
            {"url": f"{base}/nested.rss", "source": "Nested"},
            {"url": f"{base}/healthy.rss", "source": "Healthy"},
        ]
        _stage_env(home, registry)
        engine = get_engine()
        upgrade(engine)
        started = time.monotonic()
        counts = flow.poll_feeds("deep-1", all_feeds=True)
        wall = time.monotonic() - started
    assert counts["by_status"] == {"ok": 1, "parse_error": 1}, counts
    polls = _polls(engine, "deep-1")
    nested = polls["nested.rss"]
    assert "nested more than 256 deep" in nested.error and nested.bytes > 7_000_000
    assert nested.duration_ms < 2000 and wall < 10, (nested.duration_ms, wall)
    assert nested.failures == 1.0  # a hard failure: backed off, not retried every run
    assert polls["healthy.rss"].entries_new == HEALTHY_ENTRIES


def test_parse_budget_sees_markup_in_any_encoding_and_spares_real_feeds(
    samples_base_url: str,
) -> None:
    import tracemalloc

    budget = Settings(feed_max_elements=400_000, feed_max_depth=256)
    doc = '<rss version="2.0"><channel><title>t</title>' + "<a>" * 300 + "</a>" * 300
    doc += "</channel></rss>"
    deep_utf16 = doc.encode("utf-16")
    deep_utf7 = b'<?xml version="1.0" encoding="utf-7"?>' + doc.encode("utf-7").replace(
        b"<", b"+ADw-"
    ).replace(b">", b"+AD4-")
    escaped = (
        b'<rss version="2.0"><channel><item><link>http://x.test/1</link><description>'
        + b"&lt;div&gt;" * 400_001
        + b"</description></item></channel></rss>"
    )
    flat = b'<rss version="2.0"><channel>' + b"<a/>" * 400_001 + b"</channel></rss>"
    headers16 = {"content-type": "application/rss+xml; charset=utf-16"}
    for body, hdrs, reason in (
        (deep_utf16, headers16, "nested more than 256 deep"),
        (deep_utf7, None, "nested more than 256 deep"),
        (escaped, None, "more than 400000 elements"),
        (flat, None, "more than 400000 elements"),
    ):
        started = time.monotonic()
        parsed = parse_feed(body, url="u", now=NOW, headers=hdrs, settings=budget)
        assert parsed.error and reason in parsed.error, (reason, parsed.error)
        assert time.monotonic() - started < 2
    tracemalloc.start()
    parsed = parse_feed(_nested_feed(10**6), url="u", now=NOW, settings=budget)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parsed.error and peak < 64 * 2**20, peak
    # HTML inside CDATA (unclosed <p>, void <br>) and Atom XHTML content stay within budget.
    html = "<p>a<br>b<p>c<img src='x.png'><div><p>d</div>" * 20
    items = "".join(
        f"<item><link>http://x.test/{i}</link><description><![CDATA[{html}]]></description></item>"
        for i in range(300)
    )
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    assert len(parse_feed(body, url="u", now=NOW, settings=budget).entries) == 300
    with SafeClient(FAST) as client:
        for name in ("meridian-post.rss", "eastern-wire.atom", "harbor-gazette.rss"):
            result = poll_feed(FeedState(f"{samples_base_url}/feeds/{name}"), client, now=NOW)
            assert result.status == "ok" and result.entries, (name, result.error)


def test_nul_in_an_entry_is_dropped_not_stored() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>a&#0;b</title>'
        b"<link>http://x.test/1\x00z</link><guid>g&#0;</guid></item></channel></rss>"
    )
    [entry] = parse_feed(body, url="u", now=NOW).entries
    assert (entry.title, entry.url, entry.guid) == ("ab", "http://x.test/1z", "g")


def test_feeds_commands_never_print_a_feed_password(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paywalled feed's URL may carry its login: add, list and remove show it masked."""
    from pipeline.cli import app

    runner = _cli(home, monkeypatch)
    url = "https://reader:s3cret-Pass@paywalled.test/rss"
    outputs = [
        runner.invoke(app, ["feeds", "add", url, "--source", "Paywalled"]),
        runner.invoke(app, ["feeds", "add", url, "--source", "Paywalled"]),  # already there
        runner.invoke(app, ["feeds", "list"]),
        runner.invoke(app, ["feeds", "list", "--format", "json"]),
        runner.invoke(app, ["feeds", "remove", url]),
    ]
    assert outputs[0].exit_code == 0, outputs[0].output
    for result in outputs:
        assert "s3cret-Pass" not in result.output + (result.stderr or ""), result.output
    assert "reader:***@paywalled.test" in outputs[0].output


def test_db_upgrade_seeds_a_registry_that_never_held_a_feed_and_only_that_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migration path from a registry kept in MEDIAMON_FEEDS_FILE (issue 17): `db upgrade`
    imports the file into a registry with no feed row, once; polling never reads it."""
    from pipeline.cli import app
    from pipeline.registry import NO_FEEDS_REGISTERED

    runner = _cli(home, monkeypatch)
    # Nothing registered yet: polling is a no-op that says what to run.
    empty = runner.invoke(app, ["feeds", "poll"])
    assert empty.exit_code == 0 and NO_FEEDS_REGISTERED in empty.stdout, empty.output
    path = home / "old-registry.yaml"
    path.write_text("feeds:\n  - url: http://a.test/rss\n    source: A\n")
    monkeypatch.setenv("MEDIAMON_FEEDS_FILE", str(path))
    runner = _cli(home, monkeypatch)
    seeded = runner.invoke(app, ["db", "upgrade"])
    assert seeded.exit_code == 0, seeded.output
    assert f"imported 1 feeds from {path} into the empty registry" in seeded.stdout
    assert _registered_urls(runner) == ["http://a.test/rss"]
    # Emptied on purpose, the registry still has its rows: never seeded again.
    assert runner.invoke(app, ["feeds", "remove", "http://a.test/rss"]).exit_code == 0
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and "imported" not in again.stdout, again.output
    assert _registered_urls(runner) == []
