"""The Media Monitor inside a real Airflow api-server: registered, protected, truthful, and
usable in a real Chromium.

One ingested warehouse and one api-server (SimpleAuthManager with a Viewer and a User) serve the
whole module; the browser test logs in through Airflow's own login page.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from markupsafe import escape

from pipeline import flow
from pipeline.adapters.airflow import airflow_env
from pipeline.monitor import pages, render, snapshot
from pipeline.monitor.render import render_page
from pipeline.samples import PLACEHOLDER
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.queries import add_source_and_feed
from pipeline.warehouse.schema import article, feed, pipeline_run
from pipeline.warehouse.schema_quality import quarantine
from tests.conftest import REPO, SAMPLES, _reset_caches, free_port, import_feeds

pytestmark = pytest.mark.airflow

VIEWER, VIEWER_PW = "analyst", "viewer-not-a-real-secret"
EDITOR, EDITOR_PW = "editor", "editor-not-a-real-secret"
# Markup planted in an outlet name, an article title and a feed error: it must show as text.
MARKUP_TITLE = '<img src=x onerror="window.__mm_xss=1">Injected <b>headline</b>'
MARKUP_SOURCE = "<script>window.__mm_xss=2</script>Outlet & Co"
MARKUP_ERROR = '<a href="javascript:alert(1)">click</a> feed broke'


@dataclass
class Monitor:
    base: str
    home: Path
    engine: Any
    quarantine_ids: list[int]


def _seed_extras(engine: Any) -> list[int]:
    """What the demo corpus lacks: markup in titles and errors, and two quarantined articles."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        story_first = conn.execute(
            sa.text("select first_article_id from v_story_spread order by first_seen_at limit 1")
        ).scalar_one()
        conn.execute(
            sa.update(article).where(article.c.id == story_first).values(title=MARKUP_TITLE)
        )
        add_source_and_feed(
            conn, name=MARKUP_SOURCE, feed_url="http://127.0.0.1:9/markup.xml", now=now
        )
        conn.execute(
            sa.update(feed)
            .where(feed.c.url == "http://127.0.0.1:9/markup.xml")
            .values(status="http_error", last_error=MARKUP_ERROR, failures=3.0)
        )
        held = conn.execute(
            sa.select(article.c.id)
            .where(article.c.status == "published", article.c.id != story_first)
            .order_by(article.c.id)
            .limit(2)
        ).scalars().all()
        ids = []
        for article_id in held:
            conn.execute(
                sa.update(article).where(article.c.id == article_id).values(status="quarantined")
            )
            ids.append(
                conn.execute(
                    sa.insert(quarantine)
                    .values(
                        entity="article",
                        entity_id=str(article_id),
                        article_id=article_id,
                        expectation="text_not_boilerplate",
                        reason="planted by the UI test",
                        observed_value="0.9",
                        run_id="ui-test",
                        created_at=now,
                    )
                    .returning(quarantine.c.id)
                ).scalar_one()
            )
    return ids


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory, samples_base_url: str) -> Iterator[Monitor]:
    """An ingested demo warehouse and an Airflow api-server with the plugin, on a free port."""
    home = tmp_path_factory.mktemp("monitor")
    feeds_file = home / "feeds.yaml"
    feeds_file.write_text(
        (SAMPLES / "feeds.yaml").read_text().replace(PLACEHOLDER, samples_base_url)
    )
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "MEDIAMON_HOME": str(home),
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
            "MEDIAMON_SAMPLES_DIR": str(SAMPLES),
            "MEDIAMON_FEED_POLL_ALL": "true",
        }.items():
            mp.setenv(key, value)
        mp.delenv("MEDIAMON_WAREHOUSE_URL", raising=False)
        mp.delenv("AIRFLOW_CONN_MEDIAMON_WAREHOUSE", raising=False)
        _reset_caches()
        engine = get_engine()
        upgrade(engine)
        import_feeds(feeds_file)
        flow.run_ingest("monitor-run")
        ids = _seed_extras(engine)
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps({VIEWER: VIEWER_PW, EDITOR: EDITOR_PW}))
        env = dict(os.environ)
        env.update(airflow_env(home, REPO))
        env.update(
            {
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{VIEWER}:viewer,{EDITOR}:user",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            }
        )
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        port = free_port()
        log = (home / "api-server.log").open("w")
        proc = subprocess.Popen(
            [airflow, "api-server", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/api/v2/version", timeout=2).status_code in (200, 401):
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, (home / "api-server.log").read_text()[-3000:]
                time.sleep(1)
            else:
                pytest.fail("api-server did not come up in 180 s")
            yield Monitor(base, home, engine, ids)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
            _reset_caches()


def _token(base: str, user: str = VIEWER, password: str = VIEWER_PW) -> str:
    resp = httpx.post(f"{base}/auth/token", json={"username": user, "password": password})
    resp.raise_for_status()
    token: str = resp.json()["access_token"]
    return token


def _as(base: str, user: str = VIEWER, password: str = VIEWER_PW) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(base, user, password)}"}


def _plugin_module() -> ModuleType:
    """plugins/media_monitor.py, loaded by path as Airflow's plugin manager loads it."""
    spec = importlib.util.spec_from_file_location(
        "mediamon_test_media_monitor_plugin", REPO / "plugins" / "media_monitor.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# FastAPI adds these unless told not to, as plain routes that app-wide dependencies skip.
FASTAPI_DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
PREFIX = "/media-monitor"


def test_every_media_monitor_route_depends_on_the_login() -> None:
    # Without a server: each route the app has is ours and carries the login dependency, so a
    # route added later without it (or FastAPI's doc routes coming back) fails here first.
    app = _plugin_module().app
    assert app.routes, "the Media Monitor app has no routes"
    for route in app.routes:
        assert isinstance(route, APIRoute), f"{route!r} is not an APIRoute, so it skips the login"
        names = [getattr(d.dependency, "__qualname__", "") for d in route.dependencies]
        assert any(n.startswith("requires_authenticated.") for n in names), (
            f"{route.path} does not depend on requires_authenticated: {names}"
        )
    assert (app.docs_url, app.redoc_url, app.openapi_url) == (None, None, None)


def test_anonymous_browsers_go_to_the_login_page_and_clients_get_401(monitor: Monitor) -> None:
    module = _plugin_module()
    checked: list[str] = []
    for route in module.app.routes:
        # Path parameters get a placeholder: the login is checked before the route runs.
        path = re.sub(r"\{[^}]*\}", "1", getattr(route, "path", ""))
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            resp = httpx.request(method, f"{monitor.base}{PREFIX}{path}", follow_redirects=False)
            if method == "GET" and not path.startswith("/api/"):
                assert resp.status_code == 303, (path, resp.status_code)
                assert "/auth/login" in resp.headers["location"], resp.headers["location"]
                assert "next=" in resp.headers["location"]
            else:
                assert resp.status_code == 401, (method, path, resp.status_code)
            checked.append(f"{method} {path}")
    tabs = {"/", "/feeds", "/stories", "/claims", "/conflicts", "/quality"}
    assert {f"GET {t}" for t in tabs} | {f"GET /api{t}" for t in tabs - {"/"}} <= set(checked)
    assert "POST /quality/release" in checked
    headers = _as(monitor.base)
    for path in FASTAPI_DOC_PATHS:
        logged_in = httpx.get(f"{monitor.base}{PREFIX}{path}", headers=headers)
        assert logged_in.status_code == 404, (path, logged_in.status_code)
    plugins = httpx.get(f"{monitor.base}/api/v2/plugins", headers=headers).json()["plugins"]
    mine = next(p for p in plugins if p["name"] == "media_monitor")
    assert mine["external_views"][0]["href"] == "media-monitor/"


def _count(engine: Any, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_json_twins_page_sort_and_filter_on_the_server(monitor: Monitor) -> None:
    base, headers, engine = f"{monitor.base}{PREFIX}/api", _as(monitor.base), monitor.engine

    overview = httpx.get(f"{base}/overview", headers=headers).json()
    assert overview["tiles"]["published"] == _count(
        engine, "select count(*) from article where status = 'published'"
    )
    assert overview["tiles"]["broken_feeds"] == 2  # the demo's parse_error feed and the planted one
    all_articles = _count(engine, "select count(*) from article")
    assert sum(overview["chart"]["totals"].values()) == all_articles
    stages = {s["stage"] for run in overview["runs"] for s in run["stages"]}
    assert {"poll", "fetch", "extract", "gate"} <= stages
    fetch_stage = next(s for r in overview["runs"] for s in r["stages"] if s["stage"] == "fetch")
    assert "{" not in fetch_stage["summary"] and "fetched" in fetch_stage["summary"]
    assert fetch_stage["seconds"] is not None

    feeds = httpx.get(f"{base}/feeds", headers=headers).json()["feeds"]
    assert feeds["total"] == _count(engine, "select count(*) from feed")
    assert [bool(r["broken"]) for r in feeds["rows"]][:3] == [True, True, False]  # broken first
    assert all("." not in (r["last_polled_at"] or "") for r in feeds["rows"])  # no microseconds

    # The whole ledger is sorted by time only; by value within a speaker's (or measure's) claims.
    whole = httpx.get(f"{base}/claims", params={"sort": "value_low"}, headers=headers)
    assert whole.status_code == 400 and "needs a measure or speaker filter" in whole.text
    with engine.connect() as conn:
        speaker, n = conn.execute(
            sa.text(
                "select speaker, count(*) from v_claim_ledger where speaker is not null"
                " group by speaker order by count(*) desc, speaker limit 1"
            )
        ).one()
    assert n >= 3, "the demo needs a speaker with several linked figures"
    by_value = {"speaker": speaker, "per_page": 2, "sort": "value_low", "order": "desc"}
    claims = httpx.get(f"{base}/claims", params=by_value, headers=headers).json()["claims"]
    assert claims["total"] is None and claims["has_more"]  # the ledger is paged, not counted
    assert {c["key"]: c["sortable"] for c in claims["columns"]}["value_low"]
    values = [r["value_low"] for r in claims["rows"]]
    assert values == sorted(values, reverse=True) and len(values) == 2
    second = httpx.get(
        f"{base}/claims", params={**by_value, "page": 2}, headers=headers
    ).json()["claims"]
    assert not {r["claim_id"] for r in second["rows"]} & {r["claim_id"] for r in claims["rows"]}
    assert max(r["value_low"] for r in second["rows"]) <= min(values)
    unfiltered = httpx.get(f"{base}/claims", headers=headers).json()["claims"]
    assert not {c["key"]: c["sortable"] for c in unfiltered["columns"]}["value_low"]
    hedged = httpx.get(
        f"{base}/claims",
        params={"hedged": "true", "outlet": "gazette", "per_page": 200},
        headers=headers,
    ).json()["claims"]
    assert len(hedged["rows"]) == _count(
        engine,
        "select count(*) from v_claim_ledger where hedged and lower(outlet) like '%gazette%'",
    )
    assert all(r["hedged"] and "Gazette" in r["outlet"] for r in hedged["rows"])

    # Parameters outside a listing's whitelist are refused with a message, not run as SQL.
    bad = httpx.get(f"{base}/claims", params={"sort": "1; drop table claim"}, headers=headers)
    assert bad.status_code == 400 and "cannot sort" in bad.json()["detail"]
    bad_page = httpx.get(f"{base}/stories", params={"page": "two"}, headers=headers)
    assert bad_page.status_code == 400
    missing = httpx.get(f"{base}/stories/999999", headers=headers)
    assert missing.status_code == 404

    quality = httpx.get(f"{base}/quality", headers=headers).json()
    assert quality["dq_runs"]["total"] == _count(engine, "select count(*) from dq_run")
    run_ids = [r["id"] for r in quality["dq_runs"]["rows"]]
    assert run_ids == sorted(run_ids, reverse=True)  # latest gate runs first
    assert {r["id"] for r in quality["quarantine"]["rows"]} >= set(monitor.quarantine_ids)


def test_detail_pages_story_chain_claim_evidence_and_feed_history(monitor: Monitor) -> None:
    base, headers, engine = f"{monitor.base}{PREFIX}", _as(monitor.base), monitor.engine
    with engine.connect() as conn:
        story_id, copies = conn.execute(
            sa.text(
                "select story_id, wire_copies from v_story_spread"
                " order by wire_copies desc, story_id limit 1"
            )
        ).one()
        claim_id, value_start, value_end, article_id = conn.execute(
            sa.text(
                "select claim_id, value_start, value_end, article_id from v_claims"
                " where kind = 'numeric' and value_start is not null order by claim_id limit 1"
            )
        ).one()
        text = conn.execute(sa.select(article.c.text).where(article.c.id == article_id)).scalar()
        feed_id = conn.execute(
            sa.select(feed.c.id).where(feed.c.url == "http://127.0.0.1:9/markup.xml")
        ).scalar_one()
    story = httpx.get(f"{base}/api/stories/{story_id}", headers=headers).json()
    assert copies >= 1
    assert sum(1 for a in story["articles"] if a["chain"]) >= copies
    claim = httpx.get(f"{base}/api/claims/{claim_id}", headers=headers).json()
    marked = [p["text"] for p in claim["evidence"] if p["part"] == "value"]
    assert marked == [text[value_start:value_end]]
    html = httpx.get(f"{base}/claims/{claim_id}", headers=headers).text
    assert '<mark class="value">' in html
    feed_page = httpx.get(f"{base}/api/feeds/{feed_id}", headers=headers).json()
    assert feed_page["feed"]["last_error"] == MARKUP_ERROR


def test_markup_in_titles_names_and_errors_renders_as_text(monitor: Monitor) -> None:
    base, headers = f"{monitor.base}{PREFIX}", _as(monitor.base)
    shown = {
        "/feeds": [MARKUP_SOURCE, MARKUP_ERROR],
        "/stories?sort=first_seen_at&order=asc": [MARKUP_TITLE],
    }
    for path, planted in shown.items():
        html = httpx.get(f"{base}{path}", headers=headers).text
        for text in planted:
            assert text not in html, (path, text)
            assert str(escape(text)) in html, path
        assert "<script>window.__mm_xss" not in html and "onerror=" not in html.replace(
            "onerror=&#34;", ""
        ).replace("onerror=&quot;", "")


def test_a_viewer_cannot_release_quarantine_an_editor_can(monitor: Monitor) -> None:
    base = f"{monitor.base}{PREFIX}"
    first, second = monitor.quarantine_ids

    def still_open(qid: int) -> bool:
        with monitor.engine.connect() as conn:
            return conn.execute(
                sa.select(quarantine.c.released_at).where(quarantine.c.id == qid)
            ).scalar() is None

    viewer = _as(monitor.base)
    assert 'id="release-button"' not in httpx.get(f"{base}/quality", headers=viewer).text
    refused = httpx.post(
        f"{base}/quality/release", data={"ids": [first]}, headers=viewer, follow_redirects=False
    )
    assert refused.status_code == 403 and still_open(first)

    # An editor's browser session (cookie) must send the page's token: a forged cross-site form
    # cannot know it.
    token = _token(monitor.base, EDITOR, EDITOR_PW)
    cookies = {"_token": token}
    page = httpx.get(f"{base}/quality", cookies=cookies).text
    assert 'id="release-button"' in page
    forged = httpx.post(
        f"{base}/quality/release", data={"ids": [first]}, cookies=cookies, follow_redirects=False
    )
    assert forged.status_code == 403 and still_open(first)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf
    done = httpx.post(
        f"{base}/quality/release",
        data={"ids": [first], "csrf": csrf.group(1)},
        cookies=cookies,
        follow_redirects=False,
    )
    assert done.status_code == 303 and "released=1" in done.headers["location"]
    assert not still_open(first) and still_open(second)
    with monitor.engine.connect() as conn:
        status = conn.execute(
            sa.select(article.c.status).join(quarantine, quarantine.c.article_id == article.c.id)
            .where(quarantine.c.id == first)
        ).scalar()
    assert status == "analysed"  # back in the gate's queue


def test_media_monitor_masks_passwords_in_urls_and_errors(home: Path) -> None:
    # Any viewer sees the pages: a paywalled feed's credentials and an error quoting them or a
    # database URL must reach them masked, in the HTML and in the JSON alike.
    secret = "FeedPw-not-shown"
    engine = get_engine()
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        source_id, feed_id = add_source_and_feed(
            conn, name="Paywalled", feed_url=f"https://reader:{secret}@paywall.example/rss", now=now
        )
        conn.execute(
            sa.update(feed).where(feed.c.id == feed_id).values(
                status="http_error", last_error=f"GET https://reader:{secret}@paywall.example/rss"
            )
        )
        conn.execute(
            sa.insert(pipeline_run).values(
                run_id="r1",
                stage="poll",
                started_at=now,
                status="failed",
                counts={},
                error=f"GET https://reader:{secret}@paywall.example/rss: 401; "
                f"warehouse postgresql+psycopg://mediamon:{secret}@db:5432/mediamon",
            )
        )
    snap = snapshot(engine)
    with engine.connect() as conn:
        feeds = pages.feeds(conn, {})
        feed_page = pages.feed_detail(conn, feed_id, {})
        overview = pages.overview(conn)
    shown = [
        render(snap),
        json.dumps(snap.as_dict()),
        json.dumps(feeds),
        json.dumps(feed_page),
        json.dumps(overview),
        render_page("feeds", "feeds.html", feeds, root="", query={}),
        render_page("feeds", "feed.html", feed_page, root="", query={}),
        render_page("overview", "overview.html", overview, root="", query={}),
    ]
    for text in shown:
        assert secret not in text
    assert "https://reader:***@paywall.example/rss" in shown[2]
    assert "postgresql+psycopg://mediamon:***@db:5432/mediamon" in shown[4]
    assert source_id


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is required for the UI tests (make test installs Debian's chromium)"
    return found


def test_a_logged_in_user_works_through_every_tab_in_chromium(monitor: Monitor) -> None:
    """Log in on Airflow's page, open Media Monitor from the navigation, visit every tab and a
    detail page of each kind, filter the claims, and save a screenshot of each screen."""
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("MEDIAMON_SCREENSHOT_DIR") or monitor.home / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with monitor.engine.connect() as conn:
        outlet = conn.execute(
            sa.text("select outlet from v_claim_ledger group by outlet order by count(*) desc")
        ).scalars().first()
        expected_rows = conn.execute(
            sa.text("select count(*) from v_claim_ledger where outlet = :o"), {"o": outlet}
        ).scalar_one()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{monitor.base}/media-monitor/claims")
            # Not logged in: Airflow's login page, which brings us back afterwards.
            page.wait_for_selector("input[name=username]")
            assert "/auth/login" in page.url
            page.fill("input[name=username]", EDITOR)
            page.fill("input[name=password]", EDITOR_PW)
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r".*/media-monitor/claims$"))
            page.goto(f"{monitor.base}/")
            page.get_by_role("link", name="Media Monitor").click()
            frame = page.frame_locator("iframe")
            frame.locator("#tiles").wait_for()
            page.screenshot(path=str(shots / "overview.png"))

            for tab, marker in [
                ("feeds", "table#feeds"),
                ("stories", "table#stories"),
                ("claims", "table#claims"),
                ("conflicts", "#conflicts section.conflict"),
                ("quality", "table#quarantine"),
            ]:
                frame.locator(f"nav#tabs a[data-tab={tab}]").click()
                frame.locator(marker).first.wait_for()
                assert frame.locator(f"nav#tabs a.active[data-tab={tab}]").count() == 1
                page.screenshot(path=str(shots / f"{tab}.png"))

            # Claims: filter by outlet, every row shown is that outlet's, as many as in SQL.
            frame.locator("nav#tabs a[data-tab=claims]").click()
            frame.locator("#filters-claims input[name=outlet]").fill(outlet)
            frame.locator("#filters-claims button[type=submit]").click()
            inner = next(f for f in page.frames if "/media-monitor/claims" in f.url)
            inner.wait_for_url(re.compile(r".*[?&]outlet=.*"))
            frame.locator(".pager").first.wait_for()
            # The ledger is not counted (millions of rows): a page of 50 and a next link.
            cells = frame.locator("table#claims tr td:nth-child(3)").all_inner_texts()
            assert len(cells) == min(expected_rows, 50)
            assert {c.strip() for c in cells} == {outlet}
            assert (frame.locator(".pager a[rel=next]").count() > 0) == (expected_rows > 50)
            page.screenshot(path=str(shots / "claims-filtered.png"))

            # A claim's page: its evidence highlighted.
            frame.locator("table#claims tr td a").first.click()
            frame.locator("mark.evidence").first.wait_for()
            assert frame.locator("mark.value").count() == 1
            page.screenshot(path=str(shots / "claim.png"))

            # A story's page and a feed's page.
            frame.locator("nav#tabs a[data-tab=stories]").click()
            frame.locator("table#stories tr td a").first.click()
            frame.locator("table#story-articles").wait_for()
            page.screenshot(path=str(shots / "story.png"))
            frame.locator("nav#tabs a[data-tab=feeds]").click()
            frame.locator("table#feeds tr td a").first.click()
            frame.locator("svg#polls-chart").wait_for()
            page.screenshot(path=str(shots / "feed.png"))

            # Markup planted in titles ran nowhere along the way.
            for f in page.frames:
                assert f.evaluate("window.__mm_xss === undefined")
        finally:
            browser.close()
    for name in ("overview", "feeds", "stories", "claims", "conflicts", "quality", "claim"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
