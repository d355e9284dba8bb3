"""The Media Monitor view inside a real Airflow api-server: registered, protected, truthful."""

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
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute

from pipeline import flow
from pipeline.adapters.airflow import airflow_env
from pipeline.monitor import render, snapshot
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.queries import add_source_and_feed
from pipeline.warehouse.schema import pipeline_run
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.airflow

USER, PASSWORD = "analyst", "not-a-real-secret"


def _serve(home: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """An ingested warehouse and an Airflow api-server with the plugin, on a free port."""
    upgrade(get_engine())
    flow.run_ingest("monitor-run")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = dict(os.environ)
    env.update(airflow_env(home, REPO))
    env.update(
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        }
        | extra_env
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
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v2/version", timeout=2).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (home / "api-server.log").read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail("api-server did not come up in 120 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def api_server(home: Path, sample_feeds: Path) -> Iterator[str]:
    yield from _serve(home, {})


@pytest.fixture
def open_api_server(home: Path, sample_feeds: Path) -> Iterator[str]:
    """The same, with every visitor treated as admin (for the browser, which cannot log in)."""
    yield from _serve(home, {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"})


def _token(base: str) -> str:
    resp = httpx.post(f"{base}/auth/token", json={"username": USER, "password": PASSWORD})
    resp.raise_for_status()
    token: str = resp.json()["access_token"]
    return token


def _plugin_module() -> ModuleType:
    """plugins/media_monitor.py, loaded by path as Airflow's plugin manager loads it."""
    spec = importlib.util.spec_from_file_location(
        "mediamon_test_media_monitor_plugin", REPO / "plugins" / "media_monitor.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refused(resp: httpx.Response) -> bool:
    """Refused as an anonymous request should be: 401/403, or a redirect to a login page."""
    if resp.status_code in (401, 403):
        return True
    return resp.is_redirect and "login" in resp.headers.get("location", "").lower()


# FastAPI adds these unless told not to, as plain routes that app-wide dependencies skip.
FASTAPI_DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


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


def test_every_media_monitor_route_refuses_anonymous_requests(api_server: str) -> None:
    module = _plugin_module()
    prefix = module.MediaMonitorPlugin.fastapi_apps[0]["url_prefix"]
    checked: list[str] = []
    for route in module.app.routes:
        # Path parameters get a placeholder: the login is checked before the route runs.
        path = re.sub(r"\{[^}]*\}", "x", getattr(route, "path", ""))
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            resp = httpx.request(method, f"{api_server}{prefix}{path}", follow_redirects=False)
            assert _refused(resp), f"anonymous {method} {prefix}{path}: {resp.status_code}"
            checked.append(f"{method} {path}")
    assert {"GET /", "GET /api/snapshot"} <= set(checked), checked
    # The documentation routes FastAPI would add answered anyone; they are not served at all
    # (404 carries no schema), logged in or not.
    headers = {"Authorization": f"Bearer {_token(api_server)}"}
    for path in FASTAPI_DOC_PATHS:
        anonymous = httpx.get(f"{api_server}{prefix}{path}", follow_redirects=False)
        assert anonymous.status_code in (401, 403, 404), (path, anonymous.status_code)
        assert "openapi" not in anonymous.text.lower(), path
        logged_in = httpx.get(f"{api_server}{prefix}{path}", headers=headers)
        assert logged_in.status_code == 404, (path, logged_in.status_code)


def test_media_monitor_masks_passwords_in_urls_and_errors(home: Path) -> None:
    # Any viewer sees the page: a paywalled feed's credentials and an error quoting them or a
    # database URL must reach it masked, in the HTML and in the JSON alike.
    secret = "FeedPw-not-shown"
    engine = get_engine()
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        add_source_and_feed(
            conn, name="Paywalled", feed_url=f"https://reader:{secret}@paywall.example/rss", now=now
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
    for shown in (render(snap), json.dumps(snap.as_dict())):
        assert secret not in shown
        assert "https://reader:***@paywall.example/rss" in shown
        assert "postgresql+psycopg://mediamon:***@db:5432/mediamon" in shown


def test_media_monitor_is_registered_protected_and_shows_the_warehouse(api_server: str) -> None:
    base = api_server
    assert httpx.get(f"{base}/media-monitor/").status_code == 401
    assert httpx.get(f"{base}/media-monitor/api/snapshot").status_code == 401

    headers = {"Authorization": f"Bearer {_token(base)}"}
    plugins = httpx.get(f"{base}/api/v2/plugins", headers=headers).json()["plugins"]
    mine = next(p for p in plugins if p["name"] == "media_monitor")
    assert mine["external_views"][0]["href"] == "media-monitor/"

    page = httpx.get(f"{base}/media-monitor/", headers=headers)
    assert page.status_code == 200
    html = page.text
    for source in ("Meridian Post", "Eastern Wire", "Harbor Gazette", "Lakeside Courier"):
        assert source in html
    assert "parse_error" in html and "http_404" in html and "no_text" in html

    data = httpx.get(f"{base}/media-monitor/api/snapshot", headers=headers).json()
    summary = flow.warehouse_summary(get_engine())
    assert data["articles_by_status"] == summary["articles_by_status"]
    assert {f["source"] for f in data["feeds"]} == {f["source"] for f in summary["feeds"]}
    assert {(f["stage"], f["reason"]) for f in data["failures"]} == {
        ("fetch", "http_404"),
        ("extract", "no_text"),
    }


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is required for the UI tests (make test installs Debian's chromium)"
    return found


def test_media_monitor_renders_in_a_real_browser(open_api_server: str, home: Path) -> None:
    url = f"{open_api_server}/media-monitor/"
    base = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={home / 'chromium'}"]
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    # The DOM Chromium built, not the bytes the server sent: tables parsed and rendered.
    assert '<table id="feeds">' in dom
    assert dom.count("<tr>") >= 4 + 2 + 1
    assert "Lakeside Courier" in dom and "parse_error" in dom
    shot = home / "media-monitor.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,1400", url],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("MEDIAMON_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
