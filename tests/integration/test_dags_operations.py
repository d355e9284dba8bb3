"""The operations DAGs under real Airflow (dag.test in a subprocess): maintenance removes only what
is past retention, reprocess is idempotent for every stage, failures are recorded in the
warehouse; and the warehouse connection is read from the Airflow metadata DB outside a task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.fetch import RawArchive
from pipeline.warehouse import make_engine
from pipeline.warehouse.migrate import upgrade
from tests.conftest import REPO, SAMPLES

pytestmark = pytest.mark.airflow

# Runs one DAG run with dag.test() and prints its state (a fresh interpreter per run, like a
# worker: nothing cached from the previous run).
RUN_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    from airflow.dag_processing.dagbag import DagBag

    dag_id, conf, logical = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    bag = DagBag(dag_folder=sys.argv[4])
    assert not bag.import_errors, bag.import_errors
    run = bag.get_dag(dag_id).test(
        logical_date=datetime.fromisoformat(logical) if logical else None, run_conf=conf
    )
    print("STATE=" + str(run.state))
    """
)
LOGICAL = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow home with a migrated SQLite metadata DB, shared by the tests of this module."""
    from pipeline.adapters.airflow import airflow_env

    home = tmp_path_factory.mktemp("airflow")
    env = {**_clean_env(), **airflow_env(home, REPO)}
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIAMON_"))}


def _env(airflow_home: Path, mediamon_home: Path, warehouse: str, **extra: str) -> dict[str, str]:
    from pipeline.adapters.airflow import airflow_env

    return {
        **_clean_env(),
        **airflow_env(airflow_home, REPO),
        "MEDIAMON_HOME": str(mediamon_home),
        "MEDIAMON_WAREHOUSE_URL": warehouse,
        **extra,
    }


def _run(env: dict[str, str], dag_id: str, conf: dict[str, Any] | None = None) -> str:
    logical = LOGICAL.isoformat() if dag_id == "mediamon_maintenance" else ""
    proc = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, dag_id, json.dumps(conf or {}), logical,
         str(REPO / "dags")],
        env=env, capture_output=True, text=True, timeout=900, cwd=REPO,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out.rsplit("STATE=", 1)[1].split()[0]


def _stage_rows(url: str, run_like: str = "%") -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select stage, status, counts, error from pipeline_run where run_id like :r "
                "order by id"
            ),
            {"r": run_like},
        ).all()
    engine.dispose()
    out = {}
    for stage, status, counts, error in rows:
        data = json.loads(counts) if isinstance(counts, str) else counts
        out[stage] = {"status": status, "counts": data, "error": error}
    return out


# --- maintenance ------------------------------------------------------------------------------


def _seed_for_retention(url: str, archive: RawArchive) -> dict[str, Any]:
    """Articles fetched long ago and recently (one old and one recent article share a body),
    band rows inside and outside both retention windows, and feeds in several states."""
    from pipeline.config import Settings
    from pipeline.dedupe.index import day_number

    settings = Settings()
    near_band, story_band = 0, settings.dedupe_bands
    old_fetch = LOGICAL - timedelta(days=settings.raw_retention_days + 30)
    new_fetch = LOGICAL - timedelta(days=10)
    bodies = {
        "old": archive.put(b"<html>an old page, past retention, read by nobody since</html>"),
        "shared": archive.put(b"<html>a wire copy fetched long ago and again this month</html>"),
        "new": archive.put(b"<html>a page fetched ten days before the run</html>"),
    }
    articles = [
        ("a" * 64, bodies["old"], old_fetch),
        ("b" * 64, bodies["shared"], old_fetch),
        ("c" * 64, bodies["shared"], new_fetch),
        ("d" * 64, bodies["new"], new_fetch),
    ]
    days = {
        "ancient": day_number(LOGICAL - timedelta(days=settings.dedupe_retention_days + 5)),
        "recent": day_number(LOGICAL - timedelta(days=2)),
        "story_old": day_number(LOGICAL - timedelta(days=settings.dedupe_story_band_days + 5)),
    }
    bands = [
        (101, days["ancient"], 1, near_band),
        (102, days["recent"], 2, near_band),
        (103, days["story_old"], 3, near_band),
        (104, days["story_old"], 3, story_band),
        (105, days["recent"], 2, story_band),
    ]
    engine = make_engine(url)
    upgrade(engine)
    now = LOGICAL - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            sa.text("insert into source (id, name, created_at) values (1, 'Test Outlet', :t)"),
            {"t": now},
        )
        for fid, status, enabled, failures, last_success in (
            (1, "ok", True, 0.0, now),
            (2, "http_error", True, 3.0, now - timedelta(days=9)),
            (3, "disabled", False, 31.0, None),
        ):
            conn.execute(
                sa.text(
                    "insert into feed (id, source_id, url, tags, enabled, status, failures, "
                    "last_error, last_polled_at, last_success_at, created_at, updated_at) "
                    "values (:id, 1, :url, '[]', :en, :st, :f, :err, :t, :ls, :t, :t)"
                ),
                {
                    "id": fid,
                    "url": f"https://user:hunter2@feeds.example.org/{fid}.rss",
                    "en": enabled,
                    "st": status,
                    "f": failures,
                    "err": None if status == "ok" else f"{status} at https://u:pw@x.example/",
                    "t": now,
                    "ls": last_success,
                },
            )
        for aid, key, fetched in articles:
            conn.execute(
                sa.text(
                    "insert into article (id, url, source_id, feed_id, discovered_at, "
                    "discovered_run_id, status, attempts, raw_key, fetched_at, updated_at) "
                    "values (:id, :url, 1, 1, :f, 'seed', 'published', 1, :k, :f, :f)"
                ),
                {"id": aid, "url": f"https://news.example.org/{aid[0]}", "k": key, "f": fetched},
            )
        conn.execute(
            sa.text("insert into lsh_band (key, day, article_key, band) values (:k, :d, :a, :b)"),
            [{"k": k, "d": d, "a": a, "b": b} for k, d, a, b in bands],
        )
    engine.dispose()
    return {"bodies": bodies, "articles": articles}


def _retention_state(url: str, archive: RawArchive, bodies: dict[str, str]) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        raw_keys = dict(conn.execute(sa.text("select id, raw_key from article")).tuples().all())
        band_keys = sorted(conn.execute(sa.text("select key from lsh_band")).scalars())
    engine.dispose()
    return {
        "stored": {name: archive.exists(key) for name, key in bodies.items()},
        "raw_keys": raw_keys,
        "bands": band_keys,
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_maintenance_removes_only_what_is_past_retention(
    backend: str, airflow_home: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    archive = RawArchive(str(tmp_path / "raw"))
    seeded = _seed_for_retention(url, archive)
    bodies = seeded["bodies"]
    env = _env(airflow_home, tmp_path, url, MEDIAMON_MAINTENANCE_VACUUM="true")

    assert _run(env, "mediamon_maintenance") == "success"
    after = _retention_state(url, archive, bodies)
    # Only the body no article fetched within retention is gone; its row stays, unlinked.
    assert after["stored"] == {"old": False, "shared": True, "new": True}
    assert after["raw_keys"] == {
        "a" * 64: None,
        "b" * 64: bodies["shared"],
        "c" * 64: bodies["shared"],
        "d" * 64: bodies["new"],
    }
    # Bands: all of the article past dedupe retention; the story band past the story window
    # (its near band stays); everything recent stays.
    assert after["bands"] == [102, 103, 105]
    stages = _stage_rows(url, "scheduled__%") or _stage_rows(url)
    assert {s: r["status"] for s, r in stages.items()} == {
        "raw_retention": "success",
        "band_retention": "success",
        "analyze": "success",
        "feed_health": "success",
    }
    assert stages["raw_retention"]["counts"]["objects_deleted"] == 1
    assert stages["band_retention"]["counts"]["bands_pruned"] == 2
    assert stages["analyze"]["counts"]["vacuum"] is (backend == "sqlite")
    digest = stages["feed_health"]["counts"]
    assert digest["feeds"] == 3 and digest["disabled"] == 1 and digest["stale"] == 1
    assert digest["by_status"] == {"disabled": 1, "http_error": 1, "ok": 1}
    assert [f["status"] for f in digest["failing"]] == ["disabled", "http_error"]
    assert "hunter2" not in json.dumps(digest) and "pw@" not in json.dumps(digest)

    # The same day again: nothing more is past retention, nothing more is deleted.
    assert _run(env, "mediamon_maintenance") == "success"
    assert _retention_state(url, archive, bodies) == after
    again = _stage_rows(url)
    assert again["raw_retention"]["counts"]["objects_deleted"] == 0
    assert again["band_retention"]["counts"]["bands_pruned"] == 0


# --- reprocess --------------------------------------------------------------------------------

# What a reprocess run may change: everything derived from articles. Run bookkeeping
# (pipeline_run, dq_run, dq_result) grows with every run by design and is left out.
SNAPSHOT_TABLES = (
    "article",
    "claim",
    "article_entity",
    "claim_measure",
    "claim_relation",
    "claim_cluster_member",
    "quarantine",
    "article_dedupe",
)


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            t: sorted(map(tuple, conn.execute(sa.text(f"select * from {t}")).all()), key=repr)
            for t in SNAPSHOT_TABLES
        }
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory: pytest.TempPathFactory, samples_base_url: str) -> Path:
    """A MEDIAMON_HOME (SQLite warehouse, raw archive) after one ingest run over the sample
    corpus and a ledger run; made once, copied by each test that changes it."""
    from pipeline import flow
    from pipeline.samples import PLACEHOLDER
    from pipeline.warehouse import get_engine
    from tests.conftest import _reset_caches, import_feeds

    home = tmp_path_factory.mktemp("seeded")
    feeds = home / "feeds.yaml"
    feeds.write_text((SAMPLES / "feeds.yaml").read_text().replace(PLACEHOLDER, samples_base_url))
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("MEDIAMON_")]:
            mp.delenv(key)
        mp.delenv("AIRFLOW_CONN_MEDIAMON_WAREHOUSE", raising=False)
        for key, value in {
            "MEDIAMON_HOME": str(home),
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
            "MEDIAMON_SAMPLES_DIR": str(SAMPLES),
            "MEDIAMON_FEED_POLL_ALL": "true",
        }.items():
            mp.setenv(key, value)
        _reset_caches()
        try:
            engine = get_engine()
            upgrade(engine)
            import_feeds(feeds)
            flow.run_ingest("seed")
            flow.link_claims("seed")
            engine.dispose()
        finally:
            _reset_caches()
    return home


@pytest.fixture
def ingested(seeded_home: Path, tmp_path: Path) -> tuple[str, Path]:
    """A copy of the seeded home: (warehouse URL, MEDIAMON_HOME)."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(seeded_home, home)
    return f"sqlite:///{home / 'warehouse.sqlite'}", home


def _make_stale(url: str, stage: str) -> list[str]:
    """Put the warehouse in the state a stage's reprocess exists for; return the articles."""
    from pipeline.ledger.store import forget_claims

    engine = make_engine(url)
    with engine.begin() as conn:
        with_claims = list(
            conn.execute(
                sa.text(
                    "select distinct a.id from article a join claim c on c.article_id = a.id "
                    "where a.status = 'published' and c.kind = 'numeric' and c.linked "
                    "order by a.id limit 2"
                )
            ).scalars()
        )
        assert with_claims, "the sample corpus gave no linked numeric claims"
        if stage == "extract":
            conn.execute(
                sa.text("update article set extractor_version = 'trafilatura-0+old' where id in "
                        "(:a, :b)"),
                {"a": with_claims[0], "b": with_claims[-1]},
            )
        elif stage == "nlp":
            conn.execute(
                sa.text("update claim set extractor_version = 'mm-claims-0' where article_id = :a"),
                {"a": with_claims[0]},
            )
            # Analysed by old rules: an article with claims, and one in which they found none
            # (only the article's own mark can say that one is out of date).
            # Every sample article has claims: one loses them, as if the old rules found none.
            claimless = conn.execute(
                sa.text(
                    "select id from article where status = 'published' and id not in (:a, :b)"
                    " order by id limit 1"
                ),
                {"a": with_claims[0], "b": with_claims[-1]},
            ).scalar_one()
            forget_claims(conn, claimless)
            conn.execute(sa.text("delete from claim where article_id = :a"), {"a": claimless})
            conn.execute(
                sa.text("update article set nlp_version = 'mm-claims-0' where id in (:a, :b)"),
                {"a": with_claims[0], "b": claimless},
            )
        elif stage == "gate":
            # As `mediamon quarantine release` leaves an article: waiting at the gate.
            conn.execute(
                sa.text("update article set status = 'analysed' where id = :a"),
                {"a": with_claims[0]},
            )
        else:
            # A claim queued again, and one linked by older linking rules.
            forget_claims(conn, with_claims[0])
            conn.execute(
                sa.text(
                    "update claim_measure set linker_version = 'mm-ledger-0' where article_id = :b"
                ),
                {"b": with_claims[-1]},
            )
    engine.dispose()
    return with_claims


def _fixed(url: str, stage: str, ids: list[str]) -> bool:
    """Whether what _make_stale did is repaired (by the version marks _make_stale wrote, not the
    current versions: the code under test names those, and may change under a long run)."""
    engine = make_engine(url)
    with engine.connect() as conn:

        def one(sql: str, **params: Any) -> Any:
            return conn.execute(sa.text(sql), params).scalar_one()

        if stage == "extract":
            ok = one(
                "select count(*) from article where id in (:a, :b) "
                "and extractor_version = 'trafilatura-0+old'",
                a=ids[0], b=ids[-1],
            ) == 0
        elif stage == "nlp":
            ok = (
                one(
                    "select count(*) from claim where article_id = :a "
                    "and extractor_version = 'mm-claims-0'",
                    a=ids[0],
                ) == 0
                and one("select count(*) from article where nlp_version = 'mm-claims-0'") == 0
                and one("select status from article where id = :a", a=ids[0]) == "published"
            )
        elif stage == "gate":
            ok = one("select status from article where id = :a", a=ids[0]) == "published"
        else:
            ok = one(
                "select count(*) from claim where article_id = :a and kind = 'numeric' "
                "and not linked", a=ids[0],
            ) == 0 and one(
                "select count(*) from claim_measure where linker_version = 'mm-ledger-0'"
            ) == 0
    engine.dispose()
    return bool(ok)


@pytest.mark.parametrize("stage", ["extract", "nlp", "gate", "ledger"])
def test_reprocess_repairs_then_changes_nothing(
    stage: str, ingested: tuple[str, Path], airflow_home: Path
) -> None:
    url, home = ingested
    ids = _make_stale(url, stage)
    assert not _fixed(url, stage, ids)
    stale = _snapshot(url)
    env = _env(airflow_home, home, url, MEDIAMON_SAMPLES_DIR=str(SAMPLES))

    assert _run(env, "mediamon_reprocess", {"stage": stage}) == "success"
    first = _snapshot(url)
    assert _fixed(url, stage, ids), f"reprocess {stage} did not repair the warehouse"
    assert first != stale

    # Idempotent: the second run finds nothing out of date and changes nothing.
    assert _run(env, "mediamon_reprocess", {"stage": stage}) == "success"
    assert _snapshot(url) == first


def test_reprocess_window_and_failure_record(
    ingested: tuple[str, Path], airflow_home: Path
) -> None:
    url, home = ingested
    env = _env(airflow_home, home, url)
    # A window that holds none of the stale articles repairs nothing.
    ids = _make_stale(url, "gate")
    conf = {"stage": "gate", "until": "2000-01-01"}
    assert _run(env, "mediamon_reprocess", conf) == "success"
    assert not _fixed(url, "gate", ids)

    # Bad parameters fail the task before it touches anything; the callback records it.
    before = _snapshot(url)
    assert _run(env, "mediamon_reprocess", {"stage": "gate", "since": "last tuesday"}) == "failed"
    assert _snapshot(url) == before
    failed = _stage_rows(url)["task:reprocess"]
    assert failed["status"] == "failed"
    assert "ReprocessError" in failed["error"] and "last tuesday" in failed["error"]
    assert failed["counts"]["dag_id"] == "mediamon_reprocess"


# --- the warehouse connection outside a task (issue 17) --------------------------------------


@pytest.fixture
def connection_in_metadata_db(airflow_home: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The connection ``mediamon_warehouse`` stored in the metadata DB (not in the environment),
    naming a SQLite warehouse; yields the environment of a process in that deployment."""
    from pipeline.adapters.airflow import airflow_env

    env = {**_clean_env(), **airflow_env(airflow_home, REPO), "MEDIAMON_HOME": str(tmp_path)}
    airflow = str(Path(sys.executable).with_name("airflow"))
    target = tmp_path / "from-metadata-db.sqlite"
    add = subprocess.run(
        [airflow, "connections", "add", "mediamon_warehouse", "--conn-uri", f"sqlite:///{target}"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert add.returncode == 0, add.stderr[-2000:]
    try:
        yield env | {"TARGET": str(target)}
    finally:
        subprocess.run(
            [airflow, "connections", "delete", "mediamon_warehouse"],
            env=env, capture_output=True, timeout=300,
        )


def test_cli_outside_a_task_uses_the_connection_in_the_metadata_db(
    connection_in_metadata_db: dict[str, str], tmp_path: Path
) -> None:
    env = dict(connection_in_metadata_db)
    target = Path(env.pop("TARGET"))
    mediamon = str(Path(sys.executable).with_name("mediamon"))
    done = subprocess.run(
        [mediamon, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # airflow-init's step: the warehouse named by the connection, not a file under home.
    assert target.exists()
    assert not (tmp_path / "warehouse.sqlite").exists()

    # The Media Monitor plugin, as the API server loads it, reads the same warehouse.
    plugin = subprocess.run(
        [sys.executable, "-c", "import sys; import airflow.api_fastapi.app; "
         f"sys.path.insert(0, {str(REPO / 'plugins')!r}); import media_monitor; "
         "print('URL=' + media_monitor._engine().url.render_as_string())"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert plugin.returncode == 0, plugin.stderr[-2000:]
    assert plugin.stdout.rsplit("URL=", 1)[1].strip() == f"sqlite:///{target}"

    # A deployment that names a connection nobody defined stops, loudly, with no fallback.
    missing = subprocess.run(
        [mediamon, "db", "upgrade"],
        env=env | {"MEDIAMON_AIRFLOW_CONN_ID": "no_such_warehouse"},
        capture_output=True, text=True, timeout=300,
    )
    assert missing.returncode != 0
    assert "no_such_warehouse" in missing.stderr
    assert not (tmp_path / "warehouse.sqlite").exists()

    # A metadata DB that cannot be read is an error too, never "no connection, use SQLite".
    broken = subprocess.run(
        [mediamon, "db", "upgrade"],
        env=env | {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/none/x.db"},
        capture_output=True, text=True, timeout=300,
    )
    assert broken.returncode != 0
    assert "cannot read Airflow connection 'mediamon_warehouse'" in broken.stderr
    assert not (tmp_path / "warehouse.sqlite").exists()


# --- airflow-init's bucket step, on a real S3 API (moto's server on loopback) ------------------


def test_prepare_archive_creates_the_bucket_once_and_retention_deletes_on_s3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from pipeline.config import Settings
    from pipeline.flow import raw_archive
    from pipeline.maintenance import prepare_archive
    from tests.conftest import free_port

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mediamon-test-key")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mediamon-test-secret")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path))
        # moto keeps its buckets per process, and other tests of the session make theirs: a
        # bucket name of this test's own.
        bucket = f"mediamon-raw-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("MEDIAMON_RAW_ARCHIVE_URL", f"s3://{bucket}/pages")
        options = {"client_kwargs": {"endpoint_url": endpoint}}
        monkeypatch.setenv("MEDIAMON_RAW_ARCHIVE_OPTIONS", json.dumps(options))
        settings = Settings()
        client = boto3.client("s3", endpoint_url=endpoint)
        assert bucket not in [b["Name"] for b in client.list_buckets()["Buckets"]]
        assert prepare_archive(settings) == f"s3://{bucket}/pages"
        assert prepare_archive(settings) == f"s3://{bucket}/pages"  # again: no error
        assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]

        archive = raw_archive(settings)
        key = archive.put(b"<html>a page kept on the object store until retention</html>")
        assert archive.exists(key)
        archive.delete(key)
        archive.delete(key)  # already gone: no error
        assert not archive.exists(key)
    finally:
        server.stop()
