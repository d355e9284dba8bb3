"""Task logs (issue 18): no library chatter, a summary table at the end of each stage, and a
broken feed as a WARNING in the poll stage's summary."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import flow
from pipeline.logs import format_counts
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from tests.conftest import REPO, sample_feed_counts
from tests.quality_checks import RUN, Warehouse, plant_row_defects


def _summary_rows(message: str) -> dict[str, str]:
    """{count: value} from a summary table (title, header, rule, then one row per count)."""
    rows = message.splitlines()[3:]
    return dict(r.split(None, 1) for r in rows)


def test_format_counts_is_an_aligned_table() -> None:
    text = format_counts(
        "gate",
        "run-1",
        {"published": 12, "by_status": {"ok": 3, "http_error": 1}, "refused": ["a", "b"],
         "process": {"pid": 1}},
    )
    title, header, rule, *rows = text.splitlines()
    assert title == "summary of stage gate, run run-1:"
    assert header.split() == ["count", "value"] and set(rule) <= {"-", " "}
    value_column = header.index("value")
    for row in rows:
        assert row[value_column - 2 : value_column] == "  " and row[value_column] != " ", row
    assert _summary_rows(text) == {
        "published": "12",
        "by_status.ok": "3",
        "by_status.http_error": "1",
        "refused": "2 item(s)",
    }, "the worker's process entry is bookkeeping, not a count"


def test_gate_log_has_no_library_chatter_and_ends_with_its_summary(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    plant_row_defects(Warehouse(get_engine()))
    counts = flow.gate_articles(RUN)
    chatter = [
        r for r in caplog.records
        if r.name.startswith("great_expectations") and r.levelno < logging.WARNING
    ]
    assert not chatter, [r.getMessage() for r in chatter[:5]]
    last = caplog.records[-1]
    assert last.levelno == logging.INFO and last.name == "pipeline.stages.runs"
    assert last.getMessage().startswith(f"summary of stage gate, run {RUN}:")
    rows = _summary_rows(last.getMessage())
    assert (rows["published"], rows["quarantined"]) == (
        str(counts["published"]),
        str(counts["quarantined"]),
    )


def test_importing_the_gate_logs_nothing_from_great_expectations(home: Path) -> None:
    # A fresh process, as an Airflow task is: GX's import-time registration chatter (~220
    # INFO lines) happened before any stage code ran.
    code = (
        "import logging; logging.basicConfig(level=logging.DEBUG, format='%(name)s %(message)s')\n"
        "from pipeline.quality.gate import run_gate\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    gx_lines = [line for line in out.stderr.splitlines() if line.startswith("great_expectations")]
    assert not gx_lines, gx_lines[:5]


def test_a_broken_feed_is_a_warning_in_the_poll_summary(
    sample_feeds: Path, manifest: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(get_engine())
    caplog.set_level(logging.INFO)
    counts = flow.poll_feeds("poll-log-run")
    _, broken = sample_feed_counts(manifest)
    assert broken, "the sample registry has broken feeds"
    summary, warning = caplog.records[-2:]
    assert summary.levelno == logging.INFO
    assert _summary_rows(summary.getMessage())["feeds_polled"] == str(counts["feeds_polled"])
    assert warning.levelno == logging.WARNING
    text = warning.getMessage()
    assert text.startswith(f"summary of stage poll, run poll-log-run: {broken} feed(s) broken")
    failed = {s: n for s, n in counts["by_status"].items() if s not in ("ok", "not_modified")}
    assert sum(failed.values()) == broken
    # Each broken feed's URL, status and error as the warehouse recorded them.
    from pipeline.logs import broken_feeds

    recorded = broken_feeds(get_engine(), "poll-log-run")
    assert len(recorded) == broken
    for url, status, error in recorded:
        assert url in text and status in text and error and error[:60] in text
