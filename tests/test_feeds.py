"""Feed polling against the bundled corpus and the hostile server: statuses, bounds, health."""

from __future__ import annotations

import json
import os
import random
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
from pipeline.config import Settings
from pipeline.feeds import (
    FeedSpec,
    FeedState,
    PollResult,
    export_opml,
    import_opml,
    next_health,
    parse_feed,
    poll_feed,
)
from pipeline.http import SafeClient
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article, feed, feed_poll
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
            "MEDIAMON_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
            # The guard is ON: the loopback redirect must be refused at its hop.
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "false",
            "MEDIAMON_HTTP_TOTAL_TIMEOUT": "5",
            "MEDIAMON_HTTP_READ_TIMEOUT": "3",
            "MEDIAMON_HTTP_CONNECT_TIMEOUT": "2",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
        }
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


def _stage_env(home: Path, registry: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import get_settings

    (home / "feeds.yaml").write_text(yaml.safe_dump({"feeds": registry}))
    monkeypatch.setenv("MEDIAMON_FEEDS_FILE", str(home / "feeds.yaml"))
    get_settings.cache_clear()


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
        _stage_env(home, registry, monkeypatch)
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
    assert import_opml(export_opml(specs)) == specs


def test_feeds_cli_add_list_poll_export(
    home: Path, samples_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.config import get_settings

    monkeypatch.setenv("MEDIAMON_FEEDS_FILE", str(home / "feeds.yaml"))
    get_settings.cache_clear()
    runner = CliRunner()
    url = f"{samples_base_url}/feeds/meridian-post.rss"
    out = runner.invoke(app, ["feeds", "add", url, "--source", "Meridian Post", "--tag", "war"])
    assert out.exit_code == 0, out.output
    assert runner.invoke(app, ["feeds", "add", url, "--source", "X"]).exit_code == 1
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
    assert runner.invoke(app, ["feeds", "remove", url]).exit_code == 0
    assert len(yaml.safe_load((home / "feeds.yaml").read_text())["feeds"]) == 1


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
