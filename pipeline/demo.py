"""``mediamon demo``: the whole ingest pipeline through real Airflow on the bundled corpus.

Starts the sample server on loopback, migrates the warehouse, imports the bundled feed list
(pointed at the server) into the warehouse's registry, migrates an embedded Airflow metadata
database (SQLite), runs the ingest DAG once with ``dag.test()`` in a child process, and reads the
outcome back from the warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pipeline.adapters.airflow import airflow_env
from pipeline.config import Settings, get_settings, mask_url, resolve_warehouse_url
from pipeline.feeds import load_registry
from pipeline.registry import ImportCounts, import_feeds
from pipeline.samples import serving
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parents[1]


# The news agencies of the bundled corpus (samples/README.md). Invented, so no production default
# (Settings.dedupe_agencies holds real ones): the demo adds them so its wire copies are credited.
DEMO_AGENCIES = ("Continental Press Agency", "Nordpress", "Ostrel State Telegraph Agency")


def demo_agencies(settings: Settings | None = None) -> list[str]:
    """The configured agencies followed by the corpus's own, each once."""
    configured = (settings or get_settings()).dedupe_agencies
    return list(dict.fromkeys([*configured, *DEMO_AGENCIES]))


class DemoError(RuntimeError):
    """The demo could not run; the message says what to do."""


def demo_env(home: Path) -> dict[str, str]:
    """Environment for the DAG run: this process's settings plus loopback-friendly ones."""
    env = dict(os.environ)
    env.update(airflow_env(home, REPO_ROOT))
    env.update(
        {
            "MEDIAMON_HOME": str(home.resolve()),
            # The corpus is served on 127.0.0.1, which the SSRF guard refuses by default.
            "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
            # One loopback host serves every outlet; politeness gaps would only slow the demo.
            "MEDIAMON_HOST_MIN_INTERVAL": "0",
            # The demo is "poll everything now", not a scheduled run that polls only due feeds.
            "MEDIAMON_FEED_POLL_ALL": "true",
            "MEDIAMON_WAREHOUSE_URL": resolve_warehouse_url(),
            "MEDIAMON_DEDUPE_AGENCIES": json.dumps(demo_agencies()),
        }
    )
    return env


def run_demo(*, dag_id: str = "mediamon_ingest", echo: bool = True) -> dict[str, Any]:
    """Run the demo; return the warehouse summary. Raises DemoError when a step fails."""
    settings = get_settings()
    home = settings.home
    samples_site = settings.samples_dir / "site"
    if not samples_site.is_dir():
        raise DemoError(f"sample corpus not found at {samples_site}; run from the repository root")
    upgrade(get_engine())
    with ExitStack() as stack:
        try:
            base_url = stack.enter_context(serving(samples_site, settings.samples_port))
        except OSError as exc:
            raise DemoError(
                f"cannot serve samples on 127.0.0.1:{settings.samples_port} ({exc}); "
                "set MEDIAMON_SAMPLES_PORT to a free port"
            ) from exc
        import_demo_feeds(base_url)
        env = demo_env(home)
        out = None if echo else subprocess.DEVNULL
        airflow = str(Path(sys.executable).with_name("airflow"))
        step = subprocess.run([airflow, "db", "migrate"], env=env, stdout=out, stderr=out)
        if step.returncode != 0:
            raise DemoError("`airflow db migrate` failed; see its output above")
        step = subprocess.run(
            # The asset the gate publishes queues mediamon_ledger; run it as the scheduler would.
            [sys.executable, "-m", "pipeline.adapters.airflow", dag_id, "--asset-consumers"],
            env=env,
            stdout=out,
            stderr=out,
        )
        if step.returncode != 0:
            raise DemoError(f"the {dag_id} DAG run did not succeed; see the task logs above")
    from pipeline.flow import warehouse_summary

    return warehouse_summary(get_engine())


def import_demo_feeds(base_url: str) -> ImportCounts:
    """Make the warehouse's registry the bundled feed list, pointed at the sample server.

    Replacing, not merging: the demo polls exactly its own feeds, and a feed of an earlier demo
    served on another port is disabled rather than polled in vain. Polling reads the registry
    from the warehouse, so this is the one time the list is read.
    """
    settings = get_settings()
    registry = load_registry(settings.samples_dir / "feeds.yaml", base_url=base_url)
    return import_feeds(get_engine(), registry.specs, replace=True)


def demo_base_url(settings: Settings | None = None) -> str:
    """Where ``mediamon serve-samples`` serves the corpus by default (``make airflow``)."""
    return f"http://127.0.0.1:{(settings or get_settings()).samples_port}"


def shell_exports() -> str:
    """``KEY='value'`` lines of the demo environment, for ``make airflow`` to source."""
    import shlex

    env = demo_env(get_settings().home)
    # Only what the demo sets or changes: the shell that evaluates these lines already passes its
    # own environment on, and re-printing it would put any secret in it (a connection URI, a
    # Fernet key) on a screen.
    keys = [
        k for k in env if k.startswith(("AIRFLOW", "MEDIAMON_")) and os.environ.get(k) != env[k]
    ]
    url = env["MEDIAMON_WAREHOUSE_URL"]
    if "MEDIAMON_WAREHOUSE_URL" in keys and mask_url(url) != url:
        # A warehouse URL with a password can only come from the environment
        # (MEDIAMON_WAREHOUSE_URL or AIRFLOW_CONN_MEDIAMON_WAREHOUSE, here only normalised), so
        # the evaluating shell has it already.
        keys.remove("MEDIAMON_WAREHOUSE_URL")
    return "\n".join(f"{k}={shlex.quote(env[k])}" for k in sorted(keys))


def _main(argv: list[str]) -> None:
    """``python -m pipeline.demo``: the exports; ``... import-feeds``: register the demo feeds
    at the address ``mediamon serve-samples`` uses (both for ``make airflow``)."""
    if argv[:1] == ["import-feeds"]:
        base_url = demo_base_url()
        counts = import_demo_feeds(base_url)
        print(f"registered the demo feeds at {base_url}: {counts.added} new, {counts.listed} known")
    else:
        print(shell_exports())


if __name__ == "__main__":
    _main(sys.argv[1:])
