"""Settings: defaults, environment overrides, and the Airflow connection override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import Settings, normalize_db_url, resolve_warehouse_url


def test_defaults_put_sqlite_warehouse_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MEDIAMON_HOME", "MEDIAMON_WAREHOUSE_URL", "AIRFLOW_CONN_MEDIAMON_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.home == Path("var")
    assert s.feed_max_bytes == 10 * 1024 * 1024
    assert s.page_max_bytes == 20 * 1024 * 1024
    assert s.allow_private_networks is False
    assert s.default_warehouse_url().endswith("var/warehouse.sqlite")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path))
    monkeypatch.setenv("MEDIAMON_USER_AGENT", "TestBot/1")
    monkeypatch.setenv("MEDIAMON_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("MEDIAMON_LANGUAGES", '["en", "uk"]')
    s = Settings()
    assert s.home == tmp_path
    assert s.user_agent == "TestBot/1"
    assert s.allow_private_networks is True
    assert s.languages == ["en", "uk"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_normalize_db_url(given: str, expected: str) -> None:
    assert normalize_db_url(given) == expected


def test_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_MEDIAMON_WAREHOUSE", raising=False)
    monkeypatch.delenv("MEDIAMON_WAREHOUSE_URL", raising=False)
    assert resolve_warehouse_url(Settings()) == f"sqlite:///{tmp_path / 'warehouse.sqlite'}"

    monkeypatch.setenv("MEDIAMON_WAREHOUSE_URL", "postgresql://env@h/envdb")
    assert resolve_warehouse_url(Settings()) == "postgresql+psycopg://env@h/envdb"

    # The Airflow connection wins over MEDIAMON_WAREHOUSE_URL.
    monkeypatch.setenv("AIRFLOW_CONN_MEDIAMON_WAREHOUSE", "postgres://conn@h:5432/conndb")
    assert resolve_warehouse_url(Settings()) == "postgresql+psycopg://conn@h:5432/conndb"


def test_airflow_connection_in_json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "postgres", "host": "wh", "login": "m", "port": 5432, "schema": "mm"}
    monkeypatch.setenv("AIRFLOW_CONN_MEDIAMON_WAREHOUSE", json.dumps(conn))
    url = resolve_warehouse_url(Settings())
    assert url.startswith("postgresql+psycopg://m@wh:5432/mm"), url


def test_production_defaults_hold_no_demo_agencies_and_the_demo_adds_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.demo import DEMO_AGENCIES, demo_env

    monkeypatch.delenv("MEDIAMON_DEDUPE_AGENCIES", raising=False)
    monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path))
    defaults = Settings().dedupe_agencies
    assert "Reuters" in defaults and not set(DEMO_AGENCIES) & set(defaults)
    env = demo_env(tmp_path)
    demo = Settings(dedupe_agencies=json.loads(env["MEDIAMON_DEDUPE_AGENCIES"])).dedupe_agencies
    assert demo == [*defaults, *DEMO_AGENCIES]
