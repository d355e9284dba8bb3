"""The ingest DAG under real Airflow: integrity at parse time, and the demo run via dag.test()."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from pipeline.warehouse import make_engine
from tests.conftest import (
    REPO,
    free_port,
    import_feeds,
    reachable_ok_articles,
    sample_feed_counts,
)

pytestmark = pytest.mark.airflow

DAGS = REPO / "dags"

# Runs in a fresh interpreter so nothing imported by other tests hides a parse-time import.
INTEGRITY_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys
    import sqlalchemy

    from airflow.dag_processing.dagbag import DagBag

    calls = []
    def forbid(name):
        def guard(*args, **kwargs):
            calls.append(name)
            raise RuntimeError(f"{name} called while parsing DAG files")
        return guard
    # From here on, parsing must not open network connections or create database engines.
    socket.socket.connect = forbid("socket.connect")
    socket.create_connection = forbid("socket.create_connection")
    sqlalchemy.create_engine = forbid("sqlalchemy.create_engine")

    bag = DagBag(dag_folder=sys.argv[1])
    out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "calls": calls,
           "pipeline_imported": sorted(m for m in sys.modules if m.startswith("pipeline")),
           "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "tags": sorted(dag.tags),
            "schedule": str(getattr(dag.timetable, "_expression", dag.timetable)),
            "catchup": dag.catchup,
            "start_tz": str(dag.start_date.tzinfo) if dag.start_date else None,
            "max_active_runs": dag.max_active_runs,
            "tasks": {t.task_id: {"retries": t.retries,
                                  "upstream": sorted(t.upstream_task_ids),
                                  "mapped": bool(getattr(t, "_is_mapped", False)),
                                  "pool": t.pool,
                                  "outlets": [o.uri for o in t.outlets]} for t in dag.tasks},
        }
    print(json.dumps(out))
    """
)


def _airflow_env(home: Path) -> dict[str, str]:
    from pipeline.adapters.airflow import airflow_env

    env = dict(os.environ)
    env.update(airflow_env(home, REPO))
    return env


def test_dag_parses_without_db_or_network_access(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", INTEGRITY_SCRIPT, str(DAGS)],
        env=_airflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["calls"] == []
    # Heavy pipeline modules load inside task bodies, not at parse time.
    assert result["pipeline_imported"] == []
    dag = result["dags"]["mediamon_ingest"]
    assert {"mediamon", "ingest"} <= set(dag["tags"])
    assert dag["catchup"] is False
    assert dag["start_tz"] in ("UTC", "Timezone('UTC')")
    assert dag["max_active_runs"] == 1
    assert "*/30 * * * *" in dag["schedule"]
    tasks = dag["tasks"]
    chain = [
        "poll_feeds",
        "fetch_articles",
        "extract_articles",
        "dedupe_articles",
        "analyse_articles",
        "gate_articles",
    ]
    assert list(tasks) == [*chain, "announce_published", "finish_run"]
    for upstream, downstream in itertools.pairwise(chain):
        assert tasks[downstream]["upstream"] == [upstream]
    assert set(tasks["finish_run"]["upstream"]) == set(chain)
    # Fetch runs as shards of the outlets in its own pool, extract and analyse as a few mapped
    # batch workers; dedupe and the gate stay single.
    assert {name for name, t in tasks.items() if t["mapped"]} == {
        "fetch_articles",
        "extract_articles",
        "analyse_articles",
    }
    assert tasks["fetch_articles"]["pool"] == "default_pool"
    # The asset event rides on its own task after the gate, skipped when nothing published.
    assert tasks["announce_published"]["upstream"] == ["gate_articles"]
    assert tasks["announce_published"]["outlets"] == ["mediamon://warehouse/published_articles"]
    assert tasks["gate_articles"]["outlets"] == []
    # A rejected batch is a data problem: the gate fails at once, every other task retries.
    assert tasks["gate_articles"]["retries"] == 0
    once = {"gate_articles", "announce_published"}
    assert all(t["retries"] >= 1 for name, t in tasks.items() if name not in once)
    # The ledger runs on the asset the gate publishes, one task, retried like the others.
    ledger = result["dags"]["mediamon_ledger"]
    assert "mediamon://warehouse/published_articles" in ledger["schedule"]
    assert list(ledger["tasks"]) == ["link_claims"] and ledger["catchup"] is False
    assert ledger["tasks"]["link_claims"]["retries"] >= 1 and ledger["max_active_runs"] == 1
    reextract = result["dags"]["mediamon_reextract"]
    assert reextract["schedule"] in ("None", "NullTimetable()") or "Null" in reextract["schedule"]
    assert list(reextract["tasks"]) == ["reextract"]


def test_dags_have_no_airflow2_leftovers() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    proc = subprocess.run(
        [str(ruff), "check", "--select", "AIR3", "--preview", str(DAGS), str(REPO / "plugins")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _run_demo(
    home: Path, port: int, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("AIRFLOW", "MEDIAMON_")):
            del env[key]
    env.update({"MEDIAMON_HOME": str(home), "MEDIAMON_SAMPLES_PORT": str(port), **(extra or {})})
    mediamon = Path(sys.executable).with_name("mediamon")
    return subprocess.run(
        [str(mediamon), "demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


def _counts(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            "by_status": dict(
                conn.execute(sa.text("select status, count(*) from article group by status"))
                .tuples()
                .all()
            ),
            "tables": {
                t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                for t in ("source", "feed", "article", "feed_poll")
            },
            "empty_text": conn.execute(
                sa.text(
                    "select count(*) from article where status = 'published' "
                    "and (text is null or length(text) = 0)"
                )
            ).scalar_one(),
            "polls": conn.execute(
                sa.text(
                    "select s.name, p.status, p.error from feed_poll p join feed f "
                    "on f.id = p.feed_id join source s on s.id = f.source_id order by p.id"
                )
            ).all(),
        }
    engine.dispose()
    return out


def test_demo_runs_the_dag_end_to_end_idempotent_and_gated(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    port = free_port()
    first = _run_demo(tmp_path, port)
    assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
    assert "dag run state: success" in first.stdout + first.stderr
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    after_one = _counts(url)
    # Every reachable sample article is loaded with non-empty text, through every stage.
    assert after_one["by_status"].get("published") == len(reachable_ok_articles(manifest))
    assert after_one["empty_text"] == 0
    # Every sample feed was polled; the malformed one is recorded with its error.
    polls = {name: (status, error) for name, status, error in after_one["polls"]}
    assert len(polls) == sum(sample_feed_counts(manifest))
    assert polls["Lakeside Courier"][0] == "parse_error"
    assert "malformed feed" in (polls["Lakeside Courier"][1] or "")
    # The summary printed to the user shows the same facts.
    assert "Lakeside Courier" in first.stdout and "parse_error" in first.stdout
    assert "http_404" in first.stdout and "no_text" in first.stdout
    # The gate's asset event queued mediamon_ledger, which ran after ingest and linked the
    # contested measure: three outlets from both sides plus a wire copy, with conflicts.
    assert "asset-triggered mediamon_ledger: dag run state: success" in first.stdout
    assert "desert · soldier · Ostrel" in first.stdout and "Conflicts for" in first.stdout
    ledger = _ledger_counts(url)
    assert ledger["runs"] == 1 and ledger["linked"] > 0
    assert {"Eastern Wire", "Dravsk Herald", "Harbor Gazette", "Meridian Post"} <= ledger["outlets"]
    assert ledger["copies"] >= 1 and ledger["conflicts"] >= 1 and ledger["contradicts"] >= 1

    second = _run_demo(tmp_path, port)
    assert second.returncode == 0, (second.stdout + second.stderr)[-5000:]
    after_two = _counts(url)
    # Nothing new was published: the ledger (if queued again) linked nothing new.
    again = _ledger_counts(url)
    assert again["linked"] == ledger["linked"] and again["relations"] == ledger["relations"]
    assert after_two["by_status"] == after_one["by_status"]
    for table in ("source", "feed", "article"):
        assert after_two["tables"][table] == after_one["tables"][table]
    assert after_two["tables"]["feed_poll"] == 2 * after_one["tables"]["feed"]
    # Third run, on the same warehouse: one failing source is held back, the rest publishes.
    _check_batch_rejection(tmp_path, port)


def _ledger_counts(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        one = lambda sql: conn.execute(sa.text(sql)).scalar_one()  # noqa: E731
        out = {
            "runs": one("select count(*) from pipeline_run where stage = 'ledger'"),
            "linked": one("select count(*) from claim_measure where measure_id is not null"),
            "relations": one("select count(*) from claim_relation"),
            "outlets": set(
                conn.execute(
                    sa.text(
                        "select distinct outlet from v_claim_ledger "
                        "where measure like 'desert · soldier · Ostrel%'"
                    )
                ).scalars()
            ),
            "copies": one(
                "select coalesce(sum(copies), 0) from v_claim_spread "
                "where measure like 'desert · soldier · Ostrel%'"
            ),
            "conflicts": one(
                "select count(*) from v_claim_conflicts where measure like 'desert · soldier%'"
            ),
            "contradicts": one(
                "select count(*) from v_claim_conflicts where relation = 'contradicts'"
            ),
        }
    engine.dispose()
    return out


def _published_views(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            view: conn.execute(sa.text(f"select * from {view} order by 1")).all()
            for view in ("v_articles", "v_story_spread", "v_duplicates")
        }
    engine.dispose()
    return out


def _check_batch_rejection(tmp_path: Path, port: int) -> None:
    """A failing source no longer rejects the batch (issue 19): its article is held back with
    the reason, an article of a healthy source in the same run publishes, the DAG run is green.
    """
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    before = _published_views(url)
    assert before["v_articles"], "the first run published nothing to compare against"
    failing_id, healthy_id = "f" * 64, "e" * 64
    engine = make_engine(url)
    with engine.begin() as conn:
        # A new analysed article from a source that also has failed fetches/extractions in the
        # window (with the failure-share bound at 0 the gate holds that source back), and one
        # from a source without failures.
        failing = conn.execute(
            sa.text(
                "select source_id, feed_id from article "
                "where status in ('fetch_failed', 'extract_failed') limit 1"
            )
        ).one()
        healthy = conn.execute(
            sa.text(
                "select source_id, feed_id from article where status = 'published' and "
                "source_id not in (select source_id from article "
                "where status in ('fetch_failed', 'extract_failed')) limit 1"
            )
        ).one()
        for aid, (src, feed_id) in ((failing_id, failing), (healthy_id, healthy)):
            conn.execute(
                sa.text(
                    "insert into article (id, url, source_id, feed_id, discovered_at, "
                    "discovered_run_id, status, attempts, fetched_at, title, text, word_count, "
                    "language, published_at, updated_at) values (:id, :url, :src, :feed, "
                    "CURRENT_TIMESTAMP, 'seeded', 'analysed', 1, CURRENT_TIMESTAMP, 'Seeded', "
                    ":text, 120, 'en', NULL, CURRENT_TIMESTAMP)"
                ),
                {
                    "id": aid,
                    "url": f"http://127.0.0.1/seeded-{aid[0]}.html",
                    "src": src,
                    "feed": feed_id,
                    "text": " ".join(["word"] * 120),
                },
            )
    engine.dispose()
    strict = {"MEDIAMON_DQ_MAX_SOURCE_FAILURE_SHARE": "0", "MEDIAMON_DQ_SOURCE_MIN_ARTICLES": "1"}
    third = _run_demo(tmp_path, port, strict)
    log = third.stdout + third.stderr
    assert third.returncode == 0, log[-5000:]
    assert "dag run state: success" in log and "BatchRejectedError" not in log, log[-5000:]
    after = _published_views(url)
    # Only the healthy source's article joined the published views.
    assert {r[0] for r in after["v_articles"]} == {r[0] for r in before["v_articles"]} | {
        healthy_id
    }
    assert after["v_story_spread"] == before["v_story_spread"]
    assert after["v_duplicates"] == before["v_duplicates"]
    engine = make_engine(url)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(
                sa.text("select id, status from article where id in (:f, :h)"),
                {"f": failing_id, "h": healthy_id},
            ).all()
        )
        assert statuses == {failing_id: "quarantined", healthy_id: "published"}
        held = conn.execute(
            sa.text(
                "select entity, entity_id, reason from quarantine "
                "where expectation = 'article_source.source_failure_share'"
            )
        ).all()
        assert [(e, i) for e, i, _ in held] == [("article", failing_id)]
        assert "share of failed fetches/extractions above 0%" in held[0][2]
        outcomes = set(
            conn.execute(
                sa.text("select distinct outcome from dq_run where suite = 'article_source'")
            ).scalars()
        )
        assert "quarantined" in outcomes and "rejected" not in outcomes
    engine.dispose()


# --- scheduled runs under real Airflow: no-op runs and honest task states (issue 17) --------

# Runs one DAG run with dag.test() at a given logical date and prints its outcome as JSON: the
# run's state and each task's state and try number (retries show as a try number above 1).
DAG_RUN_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from datetime import datetime

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    run = bag.get_dag(sys.argv[1]).test(logical_date=datetime.fromisoformat(sys.argv[2]))
    tasks = {ti.task_id: [str(ti.state), ti.try_number] for ti in run.get_task_instances()}
    print("DAG-RUN " + json.dumps({"state": str(run.state), "tasks": tasks}))
    """
)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated Airflow metadata database for this module's DAG runs (migrating costs ~20 s)."""
    home = tmp_path_factory.mktemp("airflow")
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run(
        [str(airflow), "db", "migrate"],
        env=_airflow_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home


def _scheduled_env(airflow_home: Path, home: Path) -> dict[str, str]:
    """A scheduled run's environment: only due feeds are polled (no MEDIAMON_FEED_POLL_ALL), and
    no feeds file: the registry is the warehouse's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIAMON_"))}
    env.update(_airflow_env(airflow_home))
    env.update(
        {
            "MEDIAMON_HOME": str(home),
            "MEDIAMON_WAREHOUSE_URL": f"sqlite:///{home / 'warehouse.sqlite'}",
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
        }
    )
    return env


def _dag_run(env: dict[str, str], logical_date: str) -> tuple[dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-c", DAG_RUN_SCRIPT, "mediamon_ingest", logical_date],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("DAG-RUN "))
    return json.loads(line.removeprefix("DAG-RUN ")), log


def _asset_events(airflow_home: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{airflow_home / 'airflow' / 'airflow.db'}")
    with engine.connect() as conn:
        n: int = conn.execute(sa.text("select count(*) from asset_event")).scalar_one()
    engine.dispose()
    return n


def _register_two_feeds(env: dict[str, str], base_url: str) -> None:
    """Two feeds of the sample corpus, imported into the run's warehouse with `mediamon feeds
    import`: enough for a real run, small enough to be quick."""
    from pipeline.samples import PLACEHOLDER

    feeds = yaml.safe_load((REPO / "samples" / "feeds.yaml").read_text())["feeds"][:2]
    for entry in feeds:
        entry["url"] = entry["url"].replace(PLACEHOLDER, base_url)
    path = Path(env["MEDIAMON_HOME"]) / "two-feeds.yaml"
    path.write_text(yaml.safe_dump({"feeds": feeds}))
    import_feeds(path, env=env)


def _warehouse_url(home: Path) -> str:
    from pipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{home / 'warehouse.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def test_scheduled_run_with_no_feed_due_is_a_green_no_op_without_asset_event(
    airflow_home: Path, tmp_path: Path, samples_base_url: str
) -> None:
    url = _warehouse_url(tmp_path)
    env = _scheduled_env(airflow_home, tmp_path)
    _register_two_feeds(env, samples_base_url)
    events = _asset_events(airflow_home)
    first, log = _dag_run(env, "2026-12-07T00:00:00+00:00")
    assert first["state"] == "success", log[-5000:]
    assert first["tasks"]["announce_published"][0] == "success"
    published = _counts(url)["by_status"].get("published", 0)
    assert published > 0
    assert _asset_events(airflow_home) == events + 1
    # Extract and analyse ran as two mapped batch workers, each with its own stage row, and
    # finish_run recorded their counts combined.
    engine = make_engine(url)
    with engine.connect() as conn:
        stages = dict(
            conn.execute(sa.text("select stage, status from pipeline_run")).tuples().all()
        )
        finish = json.loads(
            conn.execute(
                sa.text("select counts from pipeline_run where stage = 'finish'")
            ).scalar_one()
        )
    engine.dispose()
    for stage in ("fetch", "fetch#1", "extract", "extract#1", "analyse", "analyse#1"):
        assert stages[stage] == "success", stages
    assert finish["stages"]["fetch"]["workers"] == 2
    assert finish["stages"]["extract"]["workers"] == 2
    assert finish["stages"]["analyse"]["workers"] == 2
    assert finish["stages"]["analyse"]["analysed"] == published
    # The next scheduled run, 30 minutes later: every feed was polled moments ago, none is due.
    second, log = _dag_run(env, "2026-12-07T00:30:00+00:00")
    assert second["state"] == "success", log[-5000:]
    assert {t: s for t, (s, _) in second["tasks"].items()} == {
        "poll_feeds": "success",
        "fetch_articles": "success",
        "extract_articles": "success",
        "dedupe_articles": "success",
        "analyse_articles": "success",
        "gate_articles": "success",
        # Nothing published: the task that carries the asset is skipped, so no event.
        "announce_published": "skipped",
        "finish_run": "success",
    }
    assert _asset_events(airflow_home) == events + 1
    engine = make_engine(url)
    with engine.connect() as conn:
        polls = conn.execute(
            sa.text("select counts from pipeline_run where stage = 'poll' order by started_at")
        ).scalars()
        polled = [json.loads(counts)["feeds_polled"] for counts in polls]
    engine.dispose()
    assert polled == [2, 0]
    assert _counts(url)["by_status"].get("published", 0) == published


# Tables that log each run rather than hold data: a run that does nothing still records its
# stages (pipeline_run) and what its gate checked (dq_run, dq_result).
RUN_LOGS = frozenset({"pipeline_run", "dq_run", "dq_result"})


def _table_rows(url: str) -> dict[str, list[str]]:
    """Every warehouse table's rows, each as its repr, sorted (so the order the database
    returns them in does not matter)."""
    from pipeline.warehouse.schema import metadata

    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(sa.select(table)))
            for table in metadata.sorted_tables
        }
    engine.dispose()
    return out


def _digest(rows: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Row count and SHA-256 of each data table (the run logs left out)."""
    return {
        name: (len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest())
        for name, lines in rows.items()
        if name not in RUN_LOGS
    }


def test_two_scheduled_runs_with_feeds_registered_but_none_due_are_green_no_ops(
    airflow_home: Path, tmp_path: Path, samples_base_url: str
) -> None:
    """Issue 17's acceptance case: the usual production run (a 30-minute schedule, feeds polled
    every 10 minutes to a day) finds no feed due. Two in a row both succeed, publish nothing,
    emit no asset event and change no data, only adding their own rows to the run logs."""
    from pipeline.warehouse.schema import feed

    url = _warehouse_url(tmp_path)
    env = _scheduled_env(airflow_home, tmp_path)
    _register_two_feeds(env, samples_base_url)
    engine = make_engine(url)
    with engine.begin() as conn:  # as if just polled: the next poll is an hour away
        conn.execute(sa.update(feed).values(next_poll_at=datetime.now(UTC) + timedelta(hours=1)))
    engine.dispose()
    events = _asset_events(airflow_home)
    snapshots = [_table_rows(url)]
    for logical_date in ("2026-12-08T00:00:00+00:00", "2026-12-08T00:30:00+00:00"):
        run, log = _dag_run(env, logical_date)
        assert run["state"] == "success", log[-5000:]
        states = {task: state for task, (state, _) in run["tasks"].items()}
        # Nothing published: the task that carries the asset is skipped; every other succeeds.
        assert states.pop("announce_published") == "skipped", states
        assert set(states.values()) == {"success"}, states
        snapshots.append(_table_rows(url))
    assert _asset_events(airflow_home) == events
    before, first, second = snapshots
    # No data table changed, by either run (the second in particular is a no-op)...
    assert _digest(first) == _digest(before)
    assert _digest(second) == _digest(first)
    assert _digest(second)["feed"][0] == 2 and _digest(second)["article"][0] == 0
    # ...and the run logs only grew: no earlier row rewritten.
    for name in RUN_LOGS:
        assert set(before[name]) <= set(first[name]) <= set(second[name]), name
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select run_id, stage, status, counts from pipeline_run order by started_at")
        ).all()
        gate_checks = conn.execute(
            sa.text("select run_id, success, rows_evaluated, rows_quarantined from dq_run")
        ).all()
    engine.dispose()
    by_run: dict[str, dict[str, tuple[str, Any]]] = {}
    for run_id, stage, status, counts in rows:
        by_run.setdefault(run_id, {})[stage] = (status, json.loads(counts) if counts else None)
    assert len(by_run) == 2, list(by_run)
    for stages in by_run.values():
        assert {"poll", "fetch", "extract", "gate", "finish"} <= set(stages), stages
        assert {status for status, _ in stages.values()} == {"success"}, stages
        poll = stages["poll"][1]
        assert poll["feeds_registered"] == 2 and poll["feeds_polled"] == 0, poll
        assert "note" not in poll  # feeds are registered: nothing to set up
    # The gate checked nothing and held nothing back.
    assert all(r.run_id in by_run and r.success for r in gate_checks), gate_checks
    assert {(r.rows_evaluated, r.rows_quarantined) for r in gate_checks} <= {(0, 0)}


def test_extract_task_fails_at_once_with_the_reason_when_the_archive_is_unreachable(
    airflow_home: Path, tmp_path: Path, samples_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import flow
    from pipeline.config import get_settings
    from pipeline.warehouse import engine as engine_mod

    url = _warehouse_url(tmp_path)
    env = _scheduled_env(airflow_home, tmp_path)
    _register_two_feeds(env, samples_base_url)
    # Pages fetched earlier by a worker whose archive this one cannot read: here the configured
    # archive is a plain file, so every read fails before any article is judged.
    for name, value in env.items():
        if name.startswith("MEDIAMON_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()
    try:
        flow.poll_feeds("seed")
        fetched = flow.fetch_articles("seed")["fetched"]
    finally:
        get_settings.cache_clear()
        engine_mod._cached_engine.cache_clear()
    assert fetched > 0
    (tmp_path / "not-a-directory").write_text("the archive is not here")
    env["MEDIAMON_RAW_ARCHIVE_URL"] = str(tmp_path / "not-a-directory")
    run, log = _dag_run(env, "2026-12-07T02:00:00+00:00")
    assert run["state"] == "failed"
    tasks = run["tasks"]
    assert tasks["poll_feeds"][0] == tasks["fetch_articles"][0] == "success"
    # Failed on its first try: a systemic failure is not retried away.
    assert tasks["extract_articles"] == ["failed", 1]
    assert tasks["gate_articles"][0] == "upstream_failed"
    assert "archive_unavailable" in log and "cannot be read" in log
    engine = make_engine(url)
    with engine.connect() as conn:
        status, error = conn.execute(
            sa.text("select status, error from pipeline_run where stage = 'extract'")
        ).one()
        waiting = conn.execute(
            sa.text("select count(*) from article where status = 'fetched'")
        ).scalar_one()
    engine.dispose()
    assert status == "failed" and "archive_unavailable" in error
    # Nothing was judged: every fetched row waits for a worker that can read the archive.
    assert waiting == fetched
