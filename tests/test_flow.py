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
import yaml

from pipeline import flow
from pipeline.dates import as_utc
from pipeline.stages import extract as extract_stage
from pipeline.stages import poll as poll_stage
from pipeline.stages import runs
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
    warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_args: Any) -> Any:
        raise ValueError("cannot read the feed table")

    monkeypatch.setattr(poll_stage, "_due_feeds", unreadable)
    with pytest.raises(ValueError, match="cannot read the feed table"):
        flow.poll_feeds("run-x")
    with warehouse.connect() as conn:
        row = conn.execute(sa.select(pipeline_run).where(pipeline_run.c.run_id == "run-x")).one()
    assert row.status == "failed" and "cannot read the feed table" in row.error


def test_polling_reads_the_registry_from_the_warehouse_not_a_file(
    warehouse: sa.Engine, sample_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.config import get_settings

    # The feed list the registry was imported from is gone, and the setting names nothing:
    # every registered feed is still polled (issue 17: no worker-local state).
    listed = len(yaml.safe_load(sample_feeds.read_text())["feeds"])
    sample_feeds.unlink()
    monkeypatch.setenv("MEDIAMON_FEEDS_FILE", str(sample_feeds.parent / "nowhere.yaml"))
    get_settings.cache_clear()
    counts = flow.poll_feeds("run-1")
    assert counts["feeds_registered"] == counts["feeds_polled"] == listed
    assert "note" not in counts


def test_an_empty_registry_is_a_green_no_op_that_says_what_to_run(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pipeline.registry import NO_FEEDS_REGISTERED

    engine = get_engine()
    upgrade(engine)
    caplog.set_level("INFO")
    counts = flow.poll_feeds("run-empty")
    assert counts["feeds_registered"] == counts["feeds_polled"] == counts["articles_new"] == 0
    assert NO_FEEDS_REGISTERED == "no feeds registered: run `mediamon feeds import FILE`"
    assert counts["note"] == NO_FEEDS_REGISTERED
    assert [r.getMessage() for r in caplog.records].count(NO_FEEDS_REGISTERED) == 1
    row = _run_row(engine, "run-empty", "poll")
    assert row.status == "success" and row.counts["note"] == NO_FEEDS_REGISTERED
    # The gate expects no poll from a run that had nothing to poll.
    assert flow.gate_articles("run-empty")["published"] == 0


# --- stages left running by a dead process (issue 19) ---------------------------------------

_KILLED_STAGE = """
import time
from pipeline.stages import runs
from pipeline.warehouse import get_engine
with runs.stage_run(get_engine(), "run-killed", "fetch"):
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
    here = {"process": runs._this_process()}
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
    with runs.stage_run(warehouse, "run-1", "fetch") as counts:
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
    found = re.search(r'stage_run\(\s*engine,\s*run_id,\s*"(\w+)"', source)
    if found:
        return found.group(1)
    for called in re.findall(r"\b(\w+)\(", source):
        if called != name and callable(getattr(flow, called, None)):
            inner = re.search(
                r'stage_run\(\s*engine,\s*run_id,\s*"(\w+)"',
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


# --- extract and analyse in a pool of processes (issue 17, item 3) --------------------------

# Columns that say when something happened (differ from run to run), not what was found.
_WHEN = {"published_at", "feed_published_at", "period_start", "period_end"}
# Logs of a run (timings, per-run ids) and the politeness state: not results.
_LOG_TABLES = {"pipeline_run", "feed_poll", "host", "alembic_version"}


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every result table, without the columns that record when (ids kept: the
    pool writes batches in the order one process does, so even surrogate ids must agree)."""
    meta = sa.MetaData()
    meta.reflect(engine)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name in _LOG_TABLES or name.startswith("dq_"):
                continue
            cols = [
                c
                for c in table.columns
                if c.name in _WHEN
                or (not isinstance(c.type, sa.DateTime | sa.TIMESTAMP)
                and not c.name.endswith("_at"))
            ]
            out[name] = sorted(
                (tuple(r) for r in conn.execute(sa.select(*cols))), key=repr
            )
    return out


def _run_with(
    monkeypatch: pytest.MonkeyPatch, home: Path, name: str, feeds: Path, **env: str
) -> tuple[sa.Engine, dict[str, Any]]:
    """A whole ingest run into its own warehouse, with settings ``env``."""
    from tests.conftest import import_feeds

    _switch(monkeypatch, MEDIAMON_WAREHOUSE_URL=f"sqlite:///{home / f'{name}.sqlite'}", **env)
    upgrade(get_engine())
    import_feeds(feeds)
    return get_engine(), flow.run_ingest("run-1")


def _without_processes(stages: dict[str, Any]) -> dict[str, Any]:
    return {k: {n: v for n, v in c.items() if n != "processes"} for k, c in stages.items()}


@pytest.mark.parametrize("batch", ["200", "6"])
def test_a_pool_of_processes_writes_exactly_what_one_process_writes(
    home: Path, sample_feeds: Path, monkeypatch: pytest.MonkeyPatch, batch: str
) -> None:
    # 200: one batch in one process; the pool cuts the ~40 articles into batches of 25 so both
    # of its processes work. 6: several batches in flight at once on both sides.
    one, counts_one = _run_with(
        monkeypatch, home, "one", sample_feeds, MEDIAMON_PROCESSES="1", MEDIAMON_BATCH_SIZE=batch
    )
    two, counts_two = _run_with(
        monkeypatch, home, "two", sample_feeds, MEDIAMON_PROCESSES="2", MEDIAMON_BATCH_SIZE=batch
    )
    for stage in ("extract", "analyse"):
        assert counts_one["stages"][stage]["processes"] == 1
        assert counts_two["stages"][stage]["processes"] == 2
    assert counts_two["stages"]["extract"]["extracted"] > 25  # more than one batch
    assert _without_processes(counts_two["stages"]) == _without_processes(counts_one["stages"])
    first, second = _snapshot(one), _snapshot(two)
    assert first["article"] and first["claim"] and first["entity"]
    for table in first:
        assert second[table] == first[table], table
    # The analyse stage leased its batches and cleared every lease it took.
    with two.connect() as conn:
        assert not conn.execute(
            sa.select(sa.func.count())
            .select_from(article)
            .where(article.c.next_attempt_at.is_not(None), article.c.status != "fetch_failed")
        ).scalar_one()


class _DyingExtract(flow.ExtractCompute):
    """Extraction whose worker process dies (as under kill -9) on the batch holding the
    article named by MEDIAMON_TEST_DIE_ON, before it answers."""

    def __call__(self, rows: Any) -> flow.ExtractOutcome:
        if os.environ.get("MEDIAMON_TEST_DIE_ON") in {r.id for r in rows}:
            os._exit(9)
        return super().__call__(rows)


def test_a_worker_process_that_dies_mid_batch_leaves_no_half_written_batch(
    warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    _switch(monkeypatch, MEDIAMON_PROCESSES="2", MEDIAMON_BATCH_SIZE="5")
    flow.poll_feeds("run-1")
    fetched = flow.fetch_articles("run-1")["fetched"]
    with warehouse.connect() as conn:
        ids = list(
            conn.execute(
                sa.select(article.c.id).where(article.c.status == "fetched").order_by(article.c.id)
            ).scalars()
        )
    batches = [ids[i : i + 5] for i in range(0, len(ids), 5)]
    assert len(batches) >= 4
    monkeypatch.setenv("MEDIAMON_TEST_DIE_ON", batches[2][0])
    monkeypatch.setattr(extract_stage, "ExtractCompute", _DyingExtract)
    with pytest.raises(BrokenProcessPool):
        flow.extract_articles("run-1")
    assert _run_row(warehouse, "run-1", "extract").status == "failed"
    with warehouse.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                sa.select(article.c.id, article.c.status, article.c.next_attempt_at)
            )
        }
    now = datetime.now(UTC)
    for batch in batches:
        statuses = {rows[i].status for i in batch}
        # All or nothing: a batch is written whole or not at all.
        assert statuses == {"fetched"} or "fetched" not in statuses, statuses
        # A batch not written is given back at once, not left leased for an hour.
        for i in batch:
            when = rows[i].next_attempt_at
            assert when is None or as_utc(when) <= now
    assert {rows[i].status for i in batches[2]} == {"fetched"}
    # The next run (a healthy pool) extracts every row that was left.
    monkeypatch.setattr(extract_stage, "ExtractCompute", _DyingExtract.__mro__[1])
    monkeypatch.delenv("MEDIAMON_TEST_DIE_ON")
    flow.extract_articles("run-2")
    assert set(_by_status(warehouse)) <= {
        ("extracted", None),
        ("extract_failed", "no_text"),
        ("fetch_failed", "http_404"),
    }
    assert sum(n for (s, _), n in _by_status(warehouse).items() if s != "fetch_failed") == fetched


def test_fetch_shards_split_the_outlets_and_together_fetch_every_page(
    warehouse: sa.Engine,
) -> None:
    flow.poll_feeds("run-1")
    with warehouse.connect() as conn:
        rows = conn.execute(
            sa.select(article.c.source_id, sa.func.count())
            .where(article.c.status == "discovered")
            .group_by(article.c.source_id)
        ).all()
    due = {0: 0, 1: 0}
    for source_id, n in rows:
        due[source_id % 2] += n
    assert due[0] and due[1], "the samples need outlets in both shards"
    parts = [flow.fetch_articles("run-1", worker=w, shards=2) for w in (0, 1)]
    # Each shard took exactly its outlets' pages (fetched or failed), none of the other's.
    for w in (0, 1):
        assert parts[w]["fetched"] + parts[w]["failed"] == due[w], parts
    assert _run_row(warehouse, "run-1", "fetch").status == "success"
    assert _run_row(warehouse, "run-1", "fetch#1").status == "success"
    with warehouse.connect() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).where(article.c.status == "discovered")
        ).scalar_one()
    assert left == 0
    with pytest.raises(ValueError, match="not one of 2 shards"):
        flow.fetch_articles("run-1", worker=2, shards=2)


def test_mapped_workers_record_their_own_stage_rows_and_finish_combines_them(
    warehouse: sa.Engine,
) -> None:
    flow.poll_feeds("run-1")
    flow.fetch_articles("run-1")
    parts = [flow.extract_articles("run-1", worker=w) for w in (0, 1)]
    # The first mapped worker took every batch; the second found none left (they share the
    # queue through leases), and each recorded its own row.
    assert parts[0]["extracted"] > 0 and parts[1]["extracted"] == 0
    assert _run_row(warehouse, "run-1", "extract").status == "success"
    assert _run_row(warehouse, "run-1", "extract#1").status == "success"
    assert flow.stage_timeout("extract#1") == flow.stage_timeout("extract")
    done = flow.finish_run("run-1", extract=iter(parts))
    combined = done["stages"]["extract"]
    assert combined["extracted"] == parts[0]["extracted"]
    assert combined["reasons"] == parts[0]["reasons"] and combined["workers"] == 2
