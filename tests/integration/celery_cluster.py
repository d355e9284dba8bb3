"""A real Airflow CeleryExecutor deployment on loopback, for tests/integration/test_celery.py.

PostgreSQL holds the Airflow metadata DB and the Mediamon warehouse (throwaway databases),
Redis (one DB number of its own, flushed) is the Celery broker, moto's S3 API server is the raw
archive. The api-server, scheduler, dag-processor and two Celery workers run as subprocesses,
each in its own session (process group) so a test can SIGKILL a whole worker, and each logging
to a file under the cluster's directory. The two workers share nothing but the databases, the
broker and the archive: each has its own MEDIAMON_HOME, AIRFLOW_HOME and hostname (Airflow's
``hostname_callable`` points at :func:`worker_hostname`, so task instances record which worker
ran them, as they would on two machines).

Module-level imports are the standard library only: the workers import this module for
:func:`worker_hostname`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "mediamon_ingest"
REDIS_URL = os.environ.get("MEDIAMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
BUCKET = "mediamon-raw"
HOSTNAME_VAR = "MEDIAMON_TEST_WORKER_HOSTNAME"


def worker_hostname() -> str:
    """Airflow ``[core] hostname_callable`` of the test workers: the name the cluster gave
    this worker (two workers on one machine would otherwise both report its FQDN)."""
    return os.environ[HOSTNAME_VAR]


class ClusterError(RuntimeError):
    """A cluster component did not start or a run did not finish; the message names its log."""


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_for(what: str, check: Callable[[], Any], *, timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; raise ClusterError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except ClusterError:
            raise  # a component died: waiting longer cannot help
        except Exception as exc:  # noqa: BLE001 - not up yet: connection refused, 404, ...
            last_exc = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise ClusterError(
        f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc})"
    )


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Cluster:
    """Everything one test module's cluster is made of; :meth:`stop` undoes :meth:`start`."""

    root: Path
    feeds_file: Path
    mediamon_env: dict[str, str]
    pg_admin_url: str
    procs: dict[str, Proc] = field(default_factory=dict)
    api_port: int = 0
    meta_db: str = ""
    warehouse_db: str = ""
    s3_endpoint: str = ""
    _moto: Any = None
    _token: str | None = None

    # --- URLs ---------------------------------------------------------------------------

    def _db_url(self, name: str, driver: str) -> str:
        base = self.pg_admin_url.split("://", 1)[1].rsplit("/", 1)[0]
        return f"{driver}://{base}/{name}"

    @property
    def warehouse_url(self) -> str:
        return self._db_url(self.warehouse_db, "postgresql+psycopg")

    @property
    def meta_url(self) -> str:
        return self._db_url(self.meta_db, "postgresql+psycopg2")

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def archive_url(self) -> str:
        return f"s3://{BUCKET}/raw"

    # --- environment --------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        """Environment shared by every Airflow process: CeleryExecutor on PostgreSQL + Redis."""
        from cryptography.fernet import Fernet

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIAMON_"))}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "AIRFLOW_HOME": str(self.root / "airflow"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.meta_url,
                "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self._db_url(self.meta_db, "postgresql"),
                # As in docker-compose.yaml: workers load the libraries and models once.
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "pipeline.adapters.celery.CELERY_CONFIG",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
                "AIRFLOW__API__BASE_URL": self.api,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
                "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet", Fernet.generate_key),
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                # Only the runs a test triggers: no cron runs, no asset-triggered ledger runs
                # (the ledger is not what these tests compare, and would race the warehouse reset).
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                # A SIGKILLed worker stops heartbeating; the default 300 s before the scheduler
                # notices would blow the CI budget.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # The DAG's retry delay (2 minutes, backing off): a few seconds here, so the
                # killed worker's retry starts as soon as the scheduler has noticed.
                "MEDIAMON_TASK_RETRY_DELAY_SECONDS": "5",
            }
        )
        env.update(self.mediamon_env)
        env.update(
            {
                "MEDIAMON_WAREHOUSE_URL": self.warehouse_url,
                "MEDIAMON_RAW_ARCHIVE_URL": self.archive_url,
                "MEDIAMON_RAW_ARCHIVE_OPTIONS": json.dumps(
                    {"client_kwargs": {"endpoint_url": self.s3_endpoint}}
                ),
                "AWS_ACCESS_KEY_ID": "mediamon-test-key",
                "AWS_SECRET_ACCESS_KEY": "mediamon-test-secret",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        return env

    _secrets: dict[str, str] = field(default_factory=dict)

    def _secret(self, name: str, make: Callable[[], Any] | None = None) -> str:
        if name not in self._secrets:
            value = make() if make else secrets.token_urlsafe(32)
            self._secrets[name] = value.decode() if isinstance(value, bytes) else value
        return self._secrets[name]

    def worker_env(self, name: str) -> dict[str, str]:
        """A worker's own environment: its MEDIAMON_HOME, AIRFLOW_HOME and hostname."""
        home = self.root / name
        (home / "airflow").mkdir(parents=True, exist_ok=True)
        env = self.base_env()
        env.update(
            {
                "MEDIAMON_HOME": str(home),
                "AIRFLOW_HOME": str(home / "airflow"),
                HOSTNAME_VAR: f"{name}.mediamon.test",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
            }
        )
        return env

    # --- processes ----------------------------------------------------------------------

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str], cpus: set[int] | None = None
    ) -> Proc:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                args,
                env=env,
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group: stop() and the kill test signal the whole tree.
                start_new_session=True,
                # Pinned to these cores, with every process it starts (affinity is inherited).
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def _airflow(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).with_name("airflow")), *args]

    def start_worker(
        self, name: str, *, concurrency: int = 2, cpus: set[int] | None = None
    ) -> Proc:
        """A Celery worker with ``concurrency`` task slots; with ``cpus``, pinned to those cores
        (bench/bench_e2e.py: a worker that stands for a machine of its own)."""
        return self._spawn(
            name,
            self._airflow(
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--concurrency",
                str(concurrency),
                # Both workers are on one machine: only one could bind the log server port.
                "--skip-serve-logs",
            ),
            self.worker_env(name),
            cpus,
        )

    def kill_machine(self, name: str) -> list[int]:
        """SIGKILL every process of a component's session at once, as if its machine lost
        power; return their pids. The session, not the process group: Airflow's supervisor
        puts each task process in a process group of its own (``setpgid``), so killing the
        worker's group alone would leave the task running on as an orphan."""
        proc = self.procs[name]
        self._expected.discard(name)
        pids = list(session_pids(proc.popen.pid))
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.popen.wait(timeout=30)
        return pids

    def check_alive(self) -> None:
        dead = [p for p in self.procs.values() if not p.alive() and p.name in self._expected]
        if dead:
            p = dead[0]
            raise ClusterError(
                f"{p.name} exited with {p.popen.returncode}; its log {p.log} ends:\n{_tail(p.log)}"
            )

    _expected: set[str] = field(default_factory=set)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        import redis
        import sqlalchemy as sa
        from moto.server import ThreadedMotoServer

        from tests.conftest import free_port

        tag = uuid.uuid4().hex[:10]
        self.meta_db, self.warehouse_db = f"mm_celery_meta_{tag}", f"mm_celery_wh_{tag}"
        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (self.meta_db, self.warehouse_db):
                conn.execute(sa.text(f'create database "{name}"'))
        admin.dispose()

        broker = redis.Redis.from_url(REDIS_URL)
        broker.flushdb()
        broker.close()

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.s3_endpoint = f"http://{host}:{port}"
        self._s3().create_bucket(Bucket=BUCKET)

        self.api_port = free_port()
        (self.root / "airflow").mkdir(parents=True, exist_ok=True)
        env = self.base_env()
        migrate = subprocess.run(
            self._airflow("db", "migrate"),
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        (self.root / "logs" / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise ClusterError(
                f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-4000:]}"
            )

        self._spawn("api-server", self._airflow("api-server", "--port", str(self.api_port)), env)
        self._spawn("scheduler", self._airflow("scheduler"), env)
        self._spawn("dag-processor", self._airflow("dag-processor"), env)
        for name in ("w1", "w2"):
            self.start_worker(name)
        self._expected = set(self.procs)

        def api_up() -> bool:
            self.check_alive()
            return self._get("/api/v2/monitor/health").status_code == 200

        wait_for("the api-server", api_up, timeout=180)

        def dag_parsed() -> bool:
            self.check_alive()
            return self._get(f"/api/v2/dags/{DAG_ID}").status_code == 200

        wait_for(f"the dag-processor to parse {DAG_ID}", dag_parsed, timeout=180)
        for name in ("w1", "w2"):
            log = self.procs[name].log

            def ready(log: Path = log) -> bool:
                self.check_alive()
                return " ready." in _tail(log, 100_000)

            wait_for(f"Celery worker {name} ({log})", ready, timeout=180)

    def reset_warehouse(self) -> None:
        """An empty, migrated warehouse with the feeds of :attr:`feeds_file` registered (with
        `mediamon feeds import`, as an operator would), and an empty archive bucket."""
        import sqlalchemy as sa

        from pipeline.warehouse import make_engine
        from pipeline.warehouse.migrate import upgrade
        from tests.conftest import import_feeds

        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{self.warehouse_db}" with (force)'))
            conn.execute(sa.text(f'create database "{self.warehouse_db}"'))
        admin.dispose()
        engine = make_engine(self.warehouse_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        import_feeds(self.feeds_file, env={**self.base_env(), "MEDIAMON_HOME": str(self.root)})
        s3 = self._s3()
        for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])

    def _s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id="mediamon-test-key",
            aws_secret_access_key="mediamon-test-secret",
            region_name="us-east-1",
        )

    def archive_keys(self) -> list[str]:
        """Object keys in the archive bucket."""
        listed = self._s3().list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return [obj["Key"] for obj in listed]

    def stop(self) -> None:
        """Stop every process this cluster started, then drop its databases; never raises
        before it has tried everything."""
        import sqlalchemy as sa

        for proc in self.procs.values():
            if proc.alive():
                with suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
        for proc in self.procs.values():
            # The session may outlive its leader (task processes in groups of their own,
            # Celery pool processes).
            for pid in session_pids(proc.popen.pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=10)
        if self._moto is not None:
            self._moto.stop()
        with suppress(Exception):
            import redis

            broker = redis.Redis.from_url(REDIS_URL)
            broker.flushdb()
            broker.close()
        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in (self.meta_db, self.warehouse_db):
                    if name:
                        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        finally:
            admin.dispose()

    # --- REST API -----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        import httpx

        if self._token is None:
            # SimpleAuthManager with all_admins gives a token to anyone who asks.
            resp = httpx.get(f"{self.api}/auth/token", timeout=10)
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def _get(self, path: str) -> httpx.Response:
        import httpx

        return httpx.get(self.api + path, headers=self._headers(), timeout=10)

    def trigger(self) -> str:
        """Trigger a manual run of the ingest DAG; return its run id."""
        import httpx

        resp = httpx.post(
            f"{self.api}/api/v2/dags/{DAG_ID}/dagRuns",
            headers=self._headers(),
            json={"logical_date": None},
            timeout=30,
        )
        if resp.status_code >= 300:
            raise ClusterError(f"trigger failed: {resp.status_code} {resp.text}")
        run_id: str = resp.json()["dag_run_id"]
        return run_id

    def run_state(self, run_id: str) -> str:
        resp = self._get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        resp.raise_for_status()
        state: str = resp.json()["state"]
        return state

    def wait_run(self, run_id: str, *, timeout: float) -> str:
        """Wait for the run to end; return its final state."""

        def ended() -> str | None:
            self.check_alive()
            state = self.run_state(run_id)
            return state if state in ("success", "failed") else None

        state: str = wait_for(f"run {run_id} to end", ended, timeout=timeout, interval=1.0)
        return state

    # --- metadata DB --------------------------------------------------------------------

    def task_tries(self, run_id: str) -> list[dict[str, Any]]:
        """Every try of every task of the run: task_id, map_index (-1 unless mapped),
        try_number, state, hostname, duration in seconds (earlier tries from
        task_instance_history, the latest from task_instance)."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.meta_url)
        try:
            with engine.connect() as conn:
                rows: list[Any] = []
                for table in ("task_instance_history", "task_instance"):
                    rows += (
                        conn.execute(
                            sa.text(
                                "select task_id, map_index, try_number, state, hostname, duration "
                                f"from {table} "
                                "where dag_id = :d and run_id = :r"
                            ),
                            {"d": DAG_ID, "r": run_id},
                        )
                        .mappings()
                        .all()
                    )
        finally:
            engine.dispose()
        return sorted(
            (dict(r) for r in rows),
            key=lambda r: (r["task_id"], r["map_index"], r["try_number"]),
        )


class ReferenceRun:
    """The LocalExecutor-equivalent reference: ``pipeline.flow.run_ingest`` (what ``mediamon
    run`` does: every ingest stage in DAG order, in one process) on its own warehouse, with the
    same feeds (imported from ``feeds_file`` first) and settings, and the raw archive in a local
    directory under its own home. Started in the background (:meth:`start`) so it runs while
    the cluster boots."""

    SCRIPT = (
        "from pipeline.warehouse import get_engine\n"
        "from pipeline.warehouse.migrate import upgrade\n"
        "from pipeline import flow\n"
        "upgrade(get_engine())\n"
        "print(flow.run_ingest('reference'))\n"
    )

    def __init__(
        self, root: Path, env: dict[str, str], warehouse_url: str, feeds_file: Path
    ) -> None:
        self.root = root
        self.feeds_file = feeds_file
        self.log = root / "reference.log"
        self.warehouse_url = warehouse_url
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
        for key in ("MEDIAMON_RAW_ARCHIVE_URL", "MEDIAMON_RAW_ARCHIVE_OPTIONS"):
            self.env.pop(key, None)
        self.env.update({"MEDIAMON_HOME": str(home), "MEDIAMON_WAREHOUSE_URL": warehouse_url})
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from tests.conftest import import_feeds

        import_feeds(self.feeds_file, env=self.env)
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-c", self.SCRIPT],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait(self, timeout: float = 600) -> None:
        assert self.popen is not None
        code = self.popen.wait(timeout=timeout)
        if code != 0:
            raise ClusterError(f"reference run_ingest exited {code}:\n{_tail(self.log)}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)


def warehouse_facts(url: str) -> dict[str, Any]:
    """What two runs on the same input must agree on: each article's (url, content_hash,
    status), the stories as sets of member URLs, and claim and entity counts per article."""
    import sqlalchemy as sa

    from pipeline.warehouse import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            articles = {
                r.url: (r.content_hash, r.status)
                for r in conn.execute(sa.text("select url, content_hash, status from article"))
            }
            members: dict[str, set[str]] = {}
            for r in conn.execute(
                sa.text(
                    "select d.story_id, a.url from article_dedupe d "
                    "join article a on a.id = d.article_id"
                )
            ):
                members.setdefault(r.story_id, set()).add(r.url)
            claims = {
                r[0]: r[1]
                for r in conn.execute(
                    sa.text(
                        "select a.url, count(*) from claim c join article a "
                        "on a.id = c.article_id group by a.url"
                    )
                )
            }
            counts = {
                t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                for t in ("article", "story", "claim", "article_entity", "quarantine")
            }
    finally:
        engine.dispose()
    return {
        "articles": articles,
        "stories": sorted(sorted(m) for m in members.values()),
        "claims_per_article": claims,
        "counts": counts,
    }


def session_pids(sid: int) -> Iterator[int]:
    """Live processes of session ``sid`` (every component is started as a session leader)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(ProcessLookupError, PermissionError):
            if os.getsid(int(entry.name)) == sid:
                yield int(entry.name)
