"""The `mediamon` command: db, run and summary."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.warehouse.migrate import sql_dir

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
    run = runner.invoke(app, ["run", "--run-id", "cli-1", "--format", "json"])
    assert run.exit_code == 0, run.output
    counts = json.loads(run.output.strip().splitlines()[-1])
    summary = runner.invoke(app, ["summary", "--format", "json"])
    assert summary.exit_code == 0, summary.output
    data = json.loads(summary.output)
    assert data["articles_by_status"] == counts["articles_by_status"]
    assert data["articles_by_status"]["published"] > 0
    text = runner.invoke(app, ["summary"])
    n = len(yaml.safe_load(sample_feeds.read_text())["feeds"])
    assert f"Feeds polled ({n})" in text.output and "Failures by reason" in text.output
