"""The Media Monitor view inside a real Airflow api-server: registered, protected, truthful."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline import flow
from pipeline.adapters.airflow import airflow_env
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
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
