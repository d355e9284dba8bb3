"""Shared fixtures: an isolated Mediamon home, the sample server, throwaway PostgreSQL databases."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from pipeline.config import get_settings
from pipeline.demo import demo_agencies
from pipeline.samples import PLACEHOLDER, serving
from pipeline.warehouse import engine as engine_mod

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
PG_ADMIN_URL = os.environ.get(
    "MEDIAMON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def samples_base_url() -> Iterator[str]:
    """The bundled corpus served on a free loopback port for the whole session."""
    with serving(SAMPLES / "site", 0) as base:
        yield base


@pytest.fixture(scope="session")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SAMPLES / "manifest.yaml").read_text())
    return data


def _reset_caches() -> None:
    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty MEDIAMON_HOME with loopback allowed and no politeness delay."""
    monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path))
    monkeypatch.setenv("MEDIAMON_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("MEDIAMON_HOST_MIN_INTERVAL", "0")
    monkeypatch.setenv("MEDIAMON_SAMPLES_DIR", str(SAMPLES))
    monkeypatch.delenv("MEDIAMON_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_MEDIAMON_WAREHOUSE", raising=False)
    _reset_caches()
    yield tmp_path
    _reset_caches()


def import_feeds(
    path: Path, *options: str, exit_code: int = 0, env: dict[str, str] | None = None
) -> Any:
    """Register the feeds of ``path`` in the warehouse, as an operator does: ``mediamon feeds
    import PATH [OPTIONS]`` (the command migrates the warehouse itself). In process on the
    settings in force, or, given ``env``, the installed ``mediamon`` in a child process with that
    environment. Returns the result; fails the test unless it ended with ``exit_code``."""
    args = ["feeds", "import", str(path), *options]
    if env is not None:
        mediamon = Path(sys.executable).with_name("mediamon")
        proc = subprocess.run(
            [str(mediamon), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == exit_code, proc.stdout + proc.stderr
        return proc
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == exit_code, result.output
    return result


def write_sample_feeds(path: Path, base_url: str) -> Path:
    """The demo feed list (samples/feeds.yaml) pointed at ``base_url``, written to ``path``."""
    path.write_text((SAMPLES / "feeds.yaml").read_text().replace(PLACEHOLDER, base_url))
    return path


@pytest.fixture
def sample_feeds(home: Path, samples_base_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo feed list pointed at the session's sample server, imported into the default
    warehouse (SQLite under ``home``). A test that switches warehouses imports it again there
    with :func:`import_feeds`."""
    path = write_sample_feeds(home / "feeds.yaml", samples_base_url)
    # The corpus credits invented agencies; the demo adds them to the real ones (pipeline.demo).
    monkeypatch.setenv("MEDIAMON_DEDUPE_AGENCIES", json.dumps(demo_agencies()))
    # Scheduled runs poll only due feeds; tests that run the stages back to back poll them all.
    monkeypatch.setenv("MEDIAMON_FEED_POLL_ALL", "true")
    _reset_caches()
    import_feeds(path)
    return path


def _pg_reachable() -> str | None:
    try:
        eng = sa.create_engine(PG_ADMIN_URL)
        with eng.connect():
            pass
        eng.dispose()
    except sa.exc.OperationalError as exc:
        return str(exc).splitlines()[0]
    return None


def require_service(what: str, problem: str | None) -> None:
    """Fail a test that needs a local service (PostgreSQL, Redis) which is unreachable, saying
    which and why: `make test` needs them (README), and a suite that skipped them would pass
    without testing half of what production runs."""
    if problem is not None:
        pytest.fail(f"{what} is required by the test suite (see README) but unreachable: {problem}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards (the test fails, saying so, when the
    server is unreachable)."""
    require_service(f"PostgreSQL at {PG_ADMIN_URL}", _pg_reachable())
    name = f"mediamon_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        engine_mod._cached_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def reachable_ok_articles(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Manifest articles listed in a parseable feed and expected to extract."""
    return [a for a in manifest["articles"] if a["feed"] and a["expected"] == "ok"]


def sample_feed_counts(manifest: dict[str, Any]) -> tuple[int, int]:
    """(parseable, broken) feeds of samples/feeds.yaml. A feed parses when the manifest reaches
    a page through it (an article's or a missing page's ``feed``); the others are broken."""
    registry = yaml.safe_load((SAMPLES / "feeds.yaml").read_text())["feeds"]
    files = [f["url"].replace(PLACEHOLDER + "/", "", 1) for f in registry]
    used = {a["feed"] for a in manifest["articles"] if a["feed"]}
    used |= {m["feed"] for m in manifest["missing"]}
    parseable = sum(f in used for f in files)
    return parseable, len(files) - parseable
