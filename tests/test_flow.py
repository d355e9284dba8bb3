"""The ingest stages end to end on the bundled corpus, without Airflow."""

from __future__ import annotations

import ast
import inspect
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline import flow
from pipeline.dates import as_utc
from pipeline.urls import url_key
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article, feed_poll, pipeline_run
from tests.conftest import REPO, reachable_ok_articles, sample_feed_counts


@pytest.fixture
def warehouse(home: Path, sample_feeds: Path) -> sa.Engine:
    engine = get_engine()
    upgrade(engine)
    return engine


def _articles(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.url: r for r in conn.execute(sa.select(article))}


def test_ingest_loads_every_reachable_article_with_text(
    warehouse: sa.Engine, samples_base_url: str, manifest: dict[str, Any]
) -> None:
    counts = flow.run_ingest("run-1")
    rows = _articles(warehouse)
    expected_ok = reachable_ok_articles(manifest)
    for item in expected_ok:
        row = rows[f"{samples_base_url}/{item['path']}"]
        assert row.status == "published", (item["path"], row.failure_reason, row.error)
        assert row.text and len(row.text) > 200
        assert row.title and row.word_count > 50
        assert row.raw_key and row.content_hash
    # The planted failures are recorded with their reason, not dropped.
    missing = rows[f"{samples_base_url}/{manifest['missing'][0]['url_path']}"]
    assert (missing.status, missing.failure_reason) == ("fetch_failed", "http_404")
    no_text = [a for a in manifest["articles"] if a["expected"] == "no_text"]
    for item in no_text:
        row = rows[f"{samples_base_url}/{item['path']}"]
        assert (row.status, row.failure_reason) == ("extract_failed", "no_text")
    # Pages on disk that no parseable feed lists are never discovered.
    unreachable = [a for a in manifest["articles"] if not a["feed"]]
    assert unreachable
    for item in unreachable:
        assert f"{samples_base_url}/{item['path']}" not in rows
    stages = counts["stages"]
    parseable, broken = sample_feed_counts(manifest)
    assert stages["poll"]["by_status"] == {"ok": parseable, "parse_error": broken}
    assert stages["extract"]["extracted"] == len(expected_ok)
    assert set(stages) == {"poll", "fetch", "extract", "dedupe", "analyse", "gate"}


def test_tracking_parameters_do_not_create_duplicates(warehouse: sa.Engine) -> None:
    flow.run_ingest("run-1")
    urls = list(_articles(warehouse))
    assert not [u for u in urls if "utm_" in u]
    assert len({url_key(u) for u in urls}) == len(urls)


def test_second_run_is_idempotent(warehouse: sa.Engine, manifest: dict[str, Any]) -> None:
    flow.run_ingest("run-1")
    first = flow.warehouse_summary(warehouse)
    second_counts = flow.run_ingest("run-2")
    second = flow.warehouse_summary(warehouse)
    assert second["articles_by_status"] == first["articles_by_status"]
    for table in ("source", "feed", "article"):
        assert second["row_counts"][table] == first["row_counts"][table]
    # Unchanged feeds answer 304; the broken one is parsed (and fails) again, not hidden.
    parseable, broken = sample_feed_counts(manifest)
    assert second_counts["stages"]["poll"]["by_status"] == {
        "not_modified": parseable,
        "parse_error": broken,
    }
    assert second_counts["stages"]["fetch"]["fetched"] == 0
    # feed_poll is a log: one row per feed per run.
    assert second["row_counts"]["feed_poll"] == 2 * first["row_counts"]["feed"]


def test_rerunning_the_same_run_overwrites_its_own_rows(warehouse: sa.Engine) -> None:
    flow.run_ingest("run-1")
    with warehouse.connect() as conn:
        polls = conn.execute(sa.select(sa.func.count()).select_from(feed_poll)).scalar_one()
        stages = conn.execute(sa.select(sa.func.count()).select_from(pipeline_run)).scalar_one()
    flow.run_ingest("run-1")
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(feed_poll)).scalar_one() == polls
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(pipeline_run)).scalar_one()
            == stages
        )
        statuses = set(conn.execute(sa.select(pipeline_run.c.status)).scalars())
    assert statuses == {"success"}


def test_failed_fetch_is_retried_when_due_and_then_succeeds(
    warehouse: sa.Engine, samples_base_url: str, home: Path
) -> None:
    flow.run_ingest("run-1")
    url = f"{samples_base_url}/meridian-post/2026/10/ceasefire-talks-stall.html"
    # Simulate a transient failure recorded earlier, whose retry time has come.
    with warehouse.begin() as conn:
        conn.execute(
            sa.update(article)
            .where(article.c.url == url)
            .values(
                status="fetch_failed",
                failure_reason="timeout",
                attempts=1,
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
                text=None,
            )
        )
    counts = flow.fetch_articles("run-2")
    assert counts["fetched"] == 1
    flow.extract_articles("run-2")
    row = _articles(warehouse)[url]
    assert row.status == "extracted" and row.text and row.attempts == 2
    assert row.failure_reason is None


def test_failed_fetch_not_yet_due_is_left_alone(
    warehouse: sa.Engine, samples_base_url: str
) -> None:
    flow.run_ingest("run-1")
    url = f"{samples_base_url}/meridian-post/2026/10/ceasefire-talks-stall.html"
    later = datetime.now(UTC) + timedelta(hours=1)
    with warehouse.begin() as conn:
        conn.execute(
            sa.update(article)
            .where(article.c.url == url)
            .values(status="fetch_failed", failure_reason="timeout", next_attempt_at=later)
        )
    assert flow.fetch_articles("run-2")["fetched"] == 0
    assert _articles(warehouse)[url].status == "fetch_failed"


def test_a_failing_stage_is_recorded_as_failed(
    warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    from pipeline.config import get_settings

    monkeypatch.setenv("MEDIAMON_FEEDS_FILE", str(home / "does-not-exist.yaml"))
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="cannot read feed registry"):
        flow.poll_feeds("run-x")
    with warehouse.connect() as conn:
        row = conn.execute(sa.select(pipeline_run).where(pipeline_run.c.run_id == "run-x")).one()
    assert row.status == "failed" and "cannot read feed registry" in row.error


# --- stages left running by a dead process (issue 19) ---------------------------------------

_KILLED_STAGE = """
import time
from pipeline import flow
from pipeline.warehouse import get_engine
with flow._stage(get_engine(), "run-killed", "fetch"):
    print("running", flush=True)
    time.sleep(120)
"""


def _run_row(engine: sa.Engine, run_id: str, stage: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(pipeline_run).where(
                pipeline_run.c.run_id == run_id, pipeline_run.c.stage == stage
            )
        ).one()


def test_a_killed_stage_is_marked_abandoned_by_the_next_run(warehouse: sa.Engine) -> None:
    # A real process, killed with SIGKILL mid-stage: it never gets to write its row's end.
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_STAGE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "running"
    finally:
        child.kill()
        child.wait(timeout=30)
    assert _run_row(warehouse, "run-killed", "fetch").status == "running"

    before = datetime.now(UTC)
    flow.fetch_articles("run-next")
    row = _run_row(warehouse, "run-killed", "fetch")
    assert row.status == "abandoned"
    assert row.finished_at is not None and as_utc(row.finished_at) >= before
    assert row.error == (
        f"abandoned: its process {child.pid} on {socket.gethostname()} is gone "
        "(found by stage fetch of run run-next)"
    )
    assert _run_row(warehouse, "run-next", "fetch").status == "success"
    # Once abandoned, it stays so: the next run has nothing more to say about it.
    flow.fetch_articles("run-after")
    assert _run_row(warehouse, "run-killed", "fetch").error == row.error


def test_running_stages_are_abandoned_only_when_their_process_cannot_be_alive(
    warehouse: sa.Engine,
) -> None:
    now = datetime.now(UTC)
    elsewhere = {"process": {"host": "worker-7f3a", "boot": "b", "pid": 41, "start": "9"}}
    here = {"process": flow._this_process()}
    assert here["process"] is not None  # Linux: /proc tells whether a pid is alive
    rows = [
        # Another host, past the extract stage's timeout (the DAG's execution_timeout): Airflow
        # has killed that task by now, so its row cannot be right.
        ("run-old", "extract", now - timedelta(hours=1, minutes=5), elsewhere),
        # Another host, within the timeout: it may well be running; left alone.
        ("run-busy", "extract", now - timedelta(minutes=10), elsewhere),
        # Written before rows named their process: the timeout alone decides (poll: 30 min).
        ("run-legacy", "poll", now - timedelta(minutes=31), {}),
        # This very process, long past the timeout (the CLI has none): alive, so left alone.
        ("run-live", "analyse", now - timedelta(hours=3), here),
    ]
    with warehouse.begin() as conn:
        conn.execute(
            sa.insert(pipeline_run),
            [
                {"run_id": r, "stage": s, "started_at": t, "status": "running", "counts": c}
                for r, s, t, c in rows
            ],
        )
    flow.fetch_articles("run-now")
    status = {r: _run_row(warehouse, r, s).status for r, s, _, _ in rows}
    assert status == {
        "run-old": "abandoned",
        "run-busy": "running",
        "run-legacy": "abandoned",
        "run-live": "running",
    }
    old = _run_row(warehouse, "run-old", "extract")
    assert old.error.startswith("abandoned: still running on worker-7f3a 1:05:")
    assert "past the extract stage's timeout of 1:00:00 (found by stage fetch of run run-now)" in (
        old.error
    )
    assert old.counts == elsewhere  # what it had said about its process is kept
    legacy = _run_row(warehouse, "run-legacy", "poll")
    assert "past the poll stage's timeout of 0:30:00" in legacy.error
    assert as_utc(legacy.finished_at) >= now
    assert "abandoned" in flow.STAGE_STATUSES


def test_a_running_stage_names_its_process_and_a_finished_one_its_counts(
    warehouse: sa.Engine,
) -> None:
    with flow._stage(warehouse, "run-1", "fetch") as counts:
        running = _run_row(warehouse, "run-1", "fetch")
        counts["fetched"] = 3
    assert running.status == "running"
    assert running.counts["process"]["pid"] == os.getpid()
    assert running.counts["process"]["host"] == socket.gethostname()
    done = _run_row(warehouse, "run-1", "fetch")
    assert (done.status, done.counts) == ("success", {"fetched": 3})


def _stage_of(name: str) -> str | None:
    """The pipeline_run stage a flow function records (following one call of another)."""
    source = inspect.getsource(getattr(flow, name))
    found = re.search(r'_stage\(\s*engine,\s*run_id,\s*"(\w+)"', source)
    if found:
        return found.group(1)
    for called in re.findall(r"\b(\w+)\(", source):
        if called != name and callable(getattr(flow, called, None)):
            inner = re.search(
                r'_stage\(\s*engine,\s*run_id,\s*"(\w+)"',
                inspect.getsource(getattr(flow, called)),
            )
            if inner:
                return inner.group(1)
    return None


def _dag_timeouts() -> dict[str, timedelta]:
    """Stage -> the execution_timeout of the DAG task that runs it, read from dags/*.py."""
    out: dict[str, timedelta] = {}
    for path in sorted((REPO / "dags").glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for dec in fn.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "task"):
                    continue
                timeout = next(
                    (k.value for k in dec.keywords if k.arg == "execution_timeout"), None
                )
                if not isinstance(timeout, ast.Call):
                    continue
                limit = timedelta(
                    **{str(k.arg): ast.literal_eval(k.value) for k in timeout.keywords}
                )
                called = [
                    c.func.attr
                    for c in ast.walk(fn)
                    if isinstance(c, ast.Call)
                    and isinstance(c.func, ast.Attribute)
                    and getattr(c.func.value, "id", None) == "flow"
                ]
                stage = _stage_of(called[0]) if called else None
                assert stage, f"{path.name}: task {fn.name} runs no recorded stage"
                out[stage] = limit
    return out


def test_stage_timeouts_are_never_shorter_than_the_dags() -> None:
    # Shorter, and a stage Airflow still lets run would be called abandoned.
    dag = _dag_timeouts()
    assert {"poll", "fetch", "extract", "dedupe", "analyse", "gate", "ledger", "reextract"} <= set(
        dag
    )
    for stage, limit in dag.items():
        assert flow.stage_timeout(stage) >= limit, stage


# --- the raw archive shared by workers, and honest stage failures (issue 17) ----------------


def _switch(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> None:
    """Become another worker: other settings, same process (caches dropped)."""
    from pipeline.config import get_settings
    from pipeline.warehouse import engine as engine_mod

    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()


def _by_status(engine: sa.Engine) -> dict[tuple[str, str | None], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(article.c.status, article.c.failure_reason, sa.func.count()).group_by(
                article.c.status, article.c.failure_reason
            )
        ).all()
    return {(status, reason): n for status, reason, n in rows}


def test_extract_on_a_worker_without_the_fetchers_archive_fails_and_reextract_recovers(
    warehouse: sa.Engine,
    home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Worker A polls and fetches with the default archive (a directory under its home); worker
    # B shares only the warehouse, as two machines with local homes would.
    shared = f"sqlite:///{home / 'warehouse.sqlite'}"
    _switch(monkeypatch, MEDIAMON_WAREHOUSE_URL=shared)
    flow.poll_feeds("run-1")
    fetched = flow.fetch_articles("run-1")["fetched"]
    assert fetched > 0
    _switch(monkeypatch, MEDIAMON_HOME=str(tmp_path_factory.mktemp("worker-b")))
    with pytest.raises(flow.StageFailedError, match="archive_missing") as err:
        flow.extract_articles("run-1")
    assert "MEDIAMON_RAW_ARCHIVE_URL" in str(err.value)
    engine = get_engine()
    # Every row says why, none is lost, and the stage row is red with the reason.
    assert _by_status(engine).get(("extract_failed", "archive_missing")) == fetched
    run = _run_row(engine, "run-1", "extract")
    assert run.status == "failed" and "archive_missing" in run.error
    assert run.counts["reasons"] == {"archive_missing": fetched}
    # Once B sees A's archive, re-extraction takes the rows again although their extractor
    # version is current: archive_missing is retryable.
    _switch(monkeypatch, MEDIAMON_RAW_ARCHIVE_URL=str(home / "raw"))
    counts = flow.reextract("run-2")
    assert counts["reextracted"] == fetched and "archive_missing" not in counts["reasons"]
    after = _by_status(get_engine())
    assert ("extract_failed", "archive_missing") not in after
    assert after[("extracted", None)] == counts["extracted"] > 0
    # ... and a second re-extraction finds nothing left to do.
    assert flow.reextract("run-3")["reextracted"] == 0


def test_extract_leaves_rows_untouched_when_the_archive_is_unreachable(
    warehouse: sa.Engine, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow.poll_feeds("run-1")
    fetched = flow.fetch_articles("run-1")["fetched"]
    (home / "plain-file").write_text("not a directory")
    _switch(monkeypatch, MEDIAMON_RAW_ARCHIVE_URL=str(home / "plain-file"))
    with pytest.raises(flow.StageFailedError, match="archive_unavailable"):
        flow.extract_articles("run-1")
    engine = get_engine()
    assert _by_status(engine)[("fetched", None)] == fetched
    with engine.connect() as conn:
        leases = conn.execute(
            sa.select(article.c.next_attempt_at).where(article.c.status == "fetched")
        ).scalars()
        assert all(when is None or as_utc(when) <= datetime.now(UTC) for when in leases)
    run = _run_row(engine, "run-1", "extract")
    assert run.status == "failed" and "cannot be read" in run.error
    # The store is back: the next run extracts every row, nothing was lost.
    _switch(monkeypatch, MEDIAMON_RAW_ARCHIVE_URL=None)
    counts = flow.extract_articles("run-2")
    assert counts["extracted"] + counts["failed"] == fetched
    assert "archive_missing" not in counts["reasons"]


def _lease(engine: sa.Engine, run_id: str | None, n: int, started: datetime) -> list[str]:
    """n fetched rows leased as a try of extract that started at ``started`` would lease them,
    with that try's pipeline_run row left "running" (the process was killed)."""
    with engine.begin() as conn:
        if run_id is not None:
            conn.execute(
                sa.insert(pipeline_run).values(
                    run_id=run_id, stage="extract", started_at=started, status="running",
                    counts={},
                )
            )
        ids = list(
            conn.execute(
                sa.select(article.c.id)
                .where(article.c.status == "fetched", article.c.next_attempt_at.is_(None))
                .order_by(article.c.id)
                .limit(n)
            ).scalars()
        )
        conn.execute(
            sa.update(article)
            .where(article.c.id.in_(ids))
            .values(next_attempt_at=started + flow.stage_timeout("extract"))
        )
    return ids


def test_a_retry_takes_back_the_leases_of_its_try_that_died(warehouse: sa.Engine) -> None:
    # A worker killed mid-extract (issue 17's kill test on Celery): its try's row still says
    # running and its batch stays leased for an hour. The retry of the same run must do those
    # rows now, not report success without them; another run's live lease is left alone.
    flow.poll_feeds("run-1")
    fetched = flow.fetch_articles("run-1")["fetched"]
    now = datetime.now(UTC)
    dead = _lease(warehouse, "run-1", 5, now - timedelta(minutes=3))
    # Held by a live try of another run that leased them before the dead try started (a lease
    # taken while it ran cannot be told from its own without a holder column: see flow).
    other = _lease(warehouse, None, 3, now - timedelta(minutes=10))
    counts = flow.extract_articles("run-1")
    assert counts["extracted"] + counts["failed"] == fetched - len(other)
    with warehouse.connect() as conn:
        left = set(
            conn.execute(sa.select(article.c.id).where(article.c.status == "fetched")).scalars()
        )
    assert left == set(other) and not left & set(dead)
    assert _run_row(warehouse, "run-1", "extract").status == "success"


def test_gate_tells_nothing_due_from_polling_that_broke(warehouse: sa.Engine) -> None:
    from pipeline.quality.gate import BatchRejectedError

    flow.poll_feeds("run-1")
    # A scheduled run right after: no feed is due, so nothing is polled and the gate is a no-op.
    idle = flow.poll_feeds("run-2", all_feeds=False)
    assert idle["feeds_polled"] == 0
    assert flow.gate_articles("run-2")["published"] == 0
    assert _run_row(warehouse, "run-2", "gate").status == "success"
    # Feeds were due but no poll was recorded: polling broke, and the gate says so.
    with warehouse.begin() as conn:
        conn.execute(
            sa.insert(pipeline_run).values(
                run_id="run-3",
                stage="poll",
                started_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
                status="success",
                counts={"feeds_polled": 3, "articles_new": 0},
            )
        )
    with pytest.raises(BatchRejectedError, match="polling broke"):
        flow.gate_articles("run-3")
