"""The `mediamon` command: db, run and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import mask_url, mask_urls_in_text
from pipeline.warehouse.migrate import sql_dir
from tests.conftest import REPO, free_port

runner = CliRunner()


def test_db_upgrade_then_downgrade(home: Path) -> None:
    up = runner.invoke(app, ["db", "upgrade"])
    assert up.exit_code == 0, up.output
    heads = ScriptDirectory(str(sql_dir() / "migrations")).get_heads()
    assert len(heads) == 1 and f"at {heads[0]}" in up.output
    assert (home / "warehouse.sqlite").exists()
    down = runner.invoke(app, ["db", "downgrade"])
    assert down.exit_code == 0, down.output
    assert "at base" in down.output


def test_run_and_summary_report_the_same_warehouse(home: Path, sample_feeds: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    run = runner.invoke(app, ["run", "--run-id", "cli-1", "--format", "json", "--progress"])
    assert run.exit_code == 0, run.output
    counts = json.loads(run.stdout)
    # Progress: one stderr line per stage as it finishes, with its seconds and counts.
    progress = [line.split() for line in run.stderr.splitlines() if not line.startswith("warn")]
    stages = ["poll", "fetch", "extract", "dedupe", "analyse", "gate", "finish", "ledger"]
    assert [p[0] for p in progress] == stages, run.stderr
    assert all(float(p[1]) >= 0 and p[2] == "s" for p in progress)
    fetch = next(" ".join(p) for p in progress if p[0] == "fetch")
    assert f"fetched {counts['stages']['fetch']['fetched']}" in fetch, fetch
    summary = runner.invoke(app, ["summary", "--format", "json"])
    assert summary.exit_code == 0, summary.output
    data = json.loads(summary.output)
    assert data["articles_by_status"] == counts["articles_by_status"]
    assert data["articles_by_status"]["published"] > 0
    text = runner.invoke(app, ["summary"])
    n = len(yaml.safe_load(sample_feeds.read_text())["feeds"])
    assert f"Feeds polled ({n})" in text.output and "Failures by reason" in text.output


# --- No password in any output (issue 19) ---------------------------------------------------------

SECRET = "pw-Never-Printed-19"
MEDIAMON = Path(sys.executable).with_name("mediamon")


def _with_password(url: str) -> tuple[str, str]:
    """``url`` carrying a password, and that password.

    The test server trusts loopback, so an added password is accepted and ignored; a server
    that asks for one was given it in MEDIAMON_TEST_PG_URL, which is then the secret to look for.
    """
    parsed = make_url(url)
    if parsed.password:
        return url, str(parsed.password)
    return parsed.set(password=SECRET).render_as_string(hide_password=False), SECRET


def _cli_env(home: Path, warehouse_url: str, **extra: str) -> dict[str, str]:
    """A clean environment for a ``mediamon`` child process: only this test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIAMON_"))}
    env.update(
        {
            "MEDIAMON_HOME": str(home),
            "MEDIAMON_WAREHOUSE_URL": warehouse_url,
            "MEDIAMON_SAMPLES_DIR": str(REPO / "samples"),
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
            **extra,
        }
    )
    return env


def _mediamon(
    args: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    # A real process, not CliRunner: tracebacks, logging and child processes write to the real
    # stdout/stderr, which is what an operator (and a log collector) sees.
    return subprocess.run(
        [str(MEDIAMON), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://mediamon:s3cret@warehouse-db:5432/mediamon",
            "postgresql+psycopg://mediamon:***@warehouse-db:5432/mediamon",
        ),
        ("postgresql://mediamon:p@ss@db/wh", "postgresql://mediamon:***@db/wh"),
        ("postgresql://mediamon:p%40ss@db/wh", "postgresql://mediamon:***@db/wh"),
        (
            "postgresql://mediamon@db/wh?sslmode=require&password=s3cret",
            "postgresql://mediamon@db/wh?sslmode=require&password=***",
        ),
        ("https://reader:s3cret@paywall.example/rss", "https://reader:***@paywall.example/rss"),
        ("http://reader:s3cret@[::1/broken", "http://reader:***@[::1/broken"),
        ("postgresql://mediamon@db/wh", "postgresql://mediamon@db/wh"),
        ("sqlite:////var/mediamon/warehouse.sqlite", "sqlite:////var/mediamon/warehouse.sqlite"),
    ],
)
def test_mask_url_hides_the_password_and_nothing_else(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    # The same URL quoted inside a message (an error from a driver or an HTTP client).
    assert mask_urls_in_text(f"connect to {url} failed") == f"connect to {shown} failed"


@pytest.mark.parametrize(
    "args",
    [["db", "upgrade"], ["db", "downgrade"], ["summary"], ["run"], ["feeds", "list"]],
    ids=" ".join,
)
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_failing_command_does_not_print_the_password(
    home: Path, args: list[str], backend: str
) -> None:
    # A failure is one line (issue 20), never a traceback: the URL must not be in it, nor in
    # the driver's message. A closed port for PostgreSQL; SQLite refuses a URL with a password.
    if backend == "postgresql":
        url = f"postgresql+psycopg://mediamon:{SECRET}@127.0.0.1:{free_port()}/mediamon"
    else:
        url = f"sqlite://mediamon:{SECRET}@/{home / 'warehouse.sqlite'}"
    proc = _mediamon(args, _cli_env(home, url), timeout=120)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.postgres
def test_no_command_prints_the_warehouse_password(
    home: Path, sample_feeds: Path, pg_url: str
) -> None:
    url, secret = _with_password(pg_url)
    env = _cli_env(home, url, MEDIAMON_FEED_POLL_ALL="true")
    masked = mask_url(url)
    assert secret not in masked
    commands = [
        ["db", "upgrade"],
        ["feeds", "import", str(sample_feeds)],
        ["run", "--run-id", "leak-1"],
        ["summary"],
        ["summary", "--format", "json"],
        ["feeds", "list"],
        ["feeds", "poll", "--all"],
        ["reextract"],
        ["ledger"],
        ["quarantine", "list"],
        ["db", "downgrade"],
    ]
    for args in commands:
        proc = _mediamon(args, env)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"mediamon {' '.join(args)}:\n{output[-3000:]}"
        assert secret not in output, f"mediamon {' '.join(args)} printed the password"
        if args[0] == "db":
            # The migrations name the warehouse they touched, masked.
            assert f"warehouse {masked} at " in proc.stdout, proc.stdout
    # `make airflow` evaluates these lines; the shell has the URL already, no need to print it.
    exports = subprocess.run(
        [sys.executable, "-m", "pipeline.demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert secret not in exports.stdout + exports.stderr
    assert "AIRFLOW_HOME=" in exports.stdout


@pytest.mark.postgres
@pytest.mark.airflow
def test_demo_does_not_print_the_warehouse_password(home: Path, pg_url: str) -> None:
    # The demo that printed it: its own report, "Where to look", and everything Airflow logs
    # while running the DAGs (to the terminal and to files under MEDIAMON_HOME).
    url, secret = _with_password(pg_url)
    env = _cli_env(home, url, MEDIAMON_SAMPLES_PORT=str(free_port()))
    proc = _mediamon(["demo"], env, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert secret not in output
    assert f"  warehouse     {mask_url(url)}\n" in proc.stdout
    leaked = [
        str(path.relative_to(home))
        for path in home.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert not leaked, f"files under MEDIAMON_HOME hold the password: {leaked}"
