"""The CLI's error contract (issue 20): every mistake is one line on stderr naming what to fix,
exit 2 for usage and input errors, 1 for runtime failures, no traceback unless --debug.

Most cases run in-process through typer's CliRunner with the real app (the same
``MediamonGroup.main`` the installed entry point calls); a few run the installed ``mediamon``
script itself, where what the interpreter prints on its own matters.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli import app, format_run
from pipeline.config import get_settings
from pipeline.warehouse import engine as engine_mod
from tests.conftest import REPO, SAMPLES, free_port

MEDIAMON = Path(sys.executable).with_name("mediamon")
SECRET = "pw-Never-Printed-20"
runner = CliRunner()

BAD_YAML = "feeds:\n  - url: http://a.test/rss\n    source: A\n  - url: [unclosed\n"
BAD_YAML_WHERE = ("bad.yaml line 5", "started on line 4")
NOT_A_URL_OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="Good" xmlUrl="http://good.test/rss"/>
<outline text="Bad" xmlUrl="not-a-url"/>
</body></opml>
"""


def _reset() -> None:
    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One migrated warehouse and one never migrated, shared by every case of the module."""
    root = tmp_path_factory.mktemp("cli_errors")
    migrated, empty = root / "migrated", root / "empty"
    migrated.mkdir()
    empty.mkdir()
    (root / "bad.yaml").write_text(BAD_YAML)
    (root / "not-a-url.opml").write_text(NOT_A_URL_OPML)
    (root / "article.txt").write_text("The council said 40 bridges were repaired last year.\n")
    up = _invoke(["db", "upgrade"], migrated)
    assert up.exit_code == 0, up.output
    yield {"root": root, "migrated": migrated, "empty": empty}
    _reset()


def _env(home: Path, **extra: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "MEDIAMON_HOME": str(home),
        "MEDIAMON_WAREHOUSE_URL": None,
        "AIRFLOW_CONN_MEDIAMON_WAREHOUSE": None,
        "MEDIAMON_AIRFLOW_CONN_ID": None,
        "MEDIAMON_FEEDS_FILE": str(home / "feeds.yaml"),
        "MEDIAMON_SAMPLES_DIR": str(SAMPLES),
        "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
        "MEDIAMON_HOST_MIN_INTERVAL": "0",
    }
    env.update(extra)
    return env


def _invoke(args: list[str], home: Path, **extra: str) -> Any:
    # Settings and engines are cached per process; each invocation reads its own environment.
    _reset()
    try:
        return runner.invoke(app, args, env=_env(home, **extra))
    finally:
        _reset()


def _one_error(result: Any, code: int) -> str:
    """The single stderr line of a failed command, after checking the contract around it."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.exit_code == code, (result.exit_code, everything)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    line: str = lines[0]
    return line


# (id, args, which home, extra environment, exit code, words the line must hold)
CASES: list[tuple[str, list[str], str, dict[str, str], int, tuple[str, ...]]] = [
    # A feed list that is not YAML, in every command that reads one: `feeds import`, and
    # `db upgrade` seeding a registry that never held a feed from MEDIAMON_FEEDS_FILE. (Polling
    # reads no file.) The bracket opened on line 4 is found unclosed at the end, line 5.
    *[
        (f"yaml-{'-'.join(args[:2])}", args, "migrated", {"bad": "yaml"}, 2, BAD_YAML_WHERE)
        for args in (["feeds", "import", "{root}/bad.yaml"], ["db", "upgrade"])
    ],
    # Invalid registry entries refused at import, with what is wrong.
    (
        "add-not-a-url",
        ["feeds", "add", "not-a-url", "--source", "X"],
        "migrated",
        {},
        2,
        ("not-a-url", "http and https"),
    ),
    # Warehouse URLs that cannot work.
    ("mysql", ["summary"], "migrated", {"url": "mysql://u@db.test/wh"}, 2, ("'mysql'",)),
    ("not-a-url", ["summary"], "migrated", {"url": "not a url"}, 2, ("not a database URL",)),
    (
        "unwritable",
        ["db", "upgrade"],
        "migrated",
        {"url": "sqlite:////proc/no-such-dir/w.db"},
        1,
        ("cannot open the warehouse", "sqlite:////proc/no-such-dir/w.db"),
    ),
    (
        "closed-port",
        ["summary"],
        "migrated",
        {"url": "closed-port"},
        1,
        ("cannot open the warehouse", "***", "MEDIAMON_WAREHOUSE_URL"),
    ),
    # A warehouse never migrated: every command that reads it says what to run.
    *[
        (f"unmigrated-{'-'.join(args)}", args, "empty", {}, 2, ("not migrated", "db upgrade"))
        for args in (
            ["summary"],
            ["run"],
            ["ledger"],
            ["quarantine", "list"],
            ["quarantine", "release", "1"],
            ["reextract"],
        )
    ],
    # Migrations to a revision that does not exist.
    ("revision", ["db", "upgrade", "--revision", "nope"], "migrated", {}, 2, ("'nope'",)),
    ("revision-down", ["db", "downgrade", "--revision", "nope"], "migrated", {}, 2, ("'nope'",)),
    # Missing input files: the same status in every command that reads files.
    ("claims-missing", ["claims", "/no/such.txt"], "migrated", {}, 2, ("/no/such.txt",)),
    ("dedupe-missing", ["dedupe", "/no/such.txt"], "migrated", {}, 2, ("/no/such.txt",)),
    ("ledger-missing", ["ledger", "/no/such.txt"], "migrated", {}, 2, ("/no/such.txt",)),
    ("extract-missing", ["extract", "/no/such.html"], "migrated", {}, 2, ("/no/such.html",)),
    (
        "opml-missing",
        ["feeds", "import-opml", "/no/such.opml"],
        "migrated",
        {},
        2,
        ("/no/such.opml",),
    ),
    # Names the warehouse does not have.
    ("release-unknown", ["quarantine", "release", "99999"], "migrated", {}, 2, ("99999",)),
    ("reextract-unknown", ["reextract", "--source", "Nope"], "migrated", {}, 2, ("'Nope'",)),
    ("remove-unknown", ["feeds", "remove", "http://x.test/rss"], "migrated", {}, 2, ("x.test",)),
    ("release-nothing", ["quarantine", "release"], "migrated", {}, 2, ("--all",)),
    # Bad values and unknown options or commands.
    ("since", ["ledger", "--since", "yesterday"], "migrated", {}, 2, ("YYYY-MM-DD",)),
    ("option", ["summary", "--formt", "json"], "migrated", {}, 2, ("--formt",)),
    ("command", ["feeds", "nope"], "migrated", {}, 2, ("nope",)),
    ("setting", ["summary"], "migrated", {"MEDIAMON_BATCH_SIZE": "many"}, 2, ("BATCH_SIZE",)),
]

# --format is checked by every command that has it, before any work is done.
FORMAT_COMMANDS = [
    ["summary"],
    ["run"],
    ["feeds", "list"],
    ["feeds", "poll"],
    ["extract", "{root}/article.txt"],
    ["reextract"],
    ["dedupe", "{root}/article.txt"],
    ["claims", "{root}/article.txt"],
    ["ledger"],
]
CASES += [
    (f"format-{a[0]}-{a[-1]}", [*a, "--format", "xml"], "migrated", {}, 2, ("'xml'", "json"))
    for a in FORMAT_COMMANDS
]


@pytest.mark.parametrize(
    ("args", "home", "extra", "code", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_a_mistake_is_one_line_and_its_exit_code(
    homes: dict[str, Path],
    args: list[str],
    home: str,
    extra: dict[str, str],
    code: int,
    words: tuple[str, ...],
) -> None:
    root = homes["root"]
    env = {k: v for k, v in extra.items() if k.startswith("MEDIAMON_")}
    if extra.get("bad") == "yaml":
        env["MEDIAMON_FEEDS_FILE"] = str(root / "bad.yaml")
    if "url" in extra:
        url = extra["url"]
        if url == "closed-port":
            url = f"postgresql+psycopg://mediamon:{SECRET}@127.0.0.1:{free_port()}/mediamon"
        env["MEDIAMON_WAREHOUSE_URL"] = url
    result = _invoke([a.format(root=root) for a in args], homes[home], **env)
    line = _one_error(result, code)
    assert SECRET not in result.stdout + result.stderr
    for word in words:
        assert word in line, (word, line)


def test_opml_import_refuses_a_bad_outline_with_its_line(homes: dict[str, Path]) -> None:
    home = homes["root"] / "opml-home"
    home.mkdir()
    result = _invoke(["feeds", "import-opml", str(homes["root"] / "not-a-url.opml")], home)
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert "line 4" in line and "not-a-url" in line, line
    assert "imported 1 feeds" in result.stdout


def test_yaml_import_refuses_a_bad_entry_with_its_line(homes: dict[str, Path]) -> None:
    home = homes["root"] / "yaml-home"
    home.mkdir()
    other = homes["root"] / "other.yaml"
    other.write_text(
        "feeds:\n  - url: http://good.test/rss\n    source: Good\n"
        "  - source: Bad\n    url: not-a-url\n"
    )
    result = _invoke(["feeds", "import", str(other)], home)
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert "other.yaml line 5" in line and "not-a-url" in line, line
    assert "imported 1 feeds" in result.stdout
    listed = _invoke(["feeds", "list", "--format", "json"], home)
    assert [f["url"] for f in json.loads(listed.stdout)] == ["http://good.test/rss"]


@pytest.mark.postgres
def test_a_missing_postgres_database_is_a_runtime_failure(
    homes: dict[str, Path], pg_url: str
) -> None:
    missing = pg_url + "_never_created"
    result = _invoke(["summary"], homes["migrated"], MEDIAMON_WAREHOUSE_URL=missing)
    line = _one_error(result, 1)
    assert "does not exist" in line and "_never_created" in line


def test_serve_samples_on_a_busy_port_names_the_port(homes: dict[str, Path]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _invoke(["serve-samples", "--port", str(port)], homes["migrated"])
    line = _one_error(result, 1)
    assert f"127.0.0.1:{port}" in line and "--port" in line


def test_extract_of_an_unreachable_host_says_so(homes: dict[str, Path]) -> None:
    url = f"http://127.0.0.1:{free_port()}/page.html"
    result = _invoke(["extract", url, "--format", "json"], homes["migrated"])
    line = _one_error(result, 1)
    assert "unreachable" in line and "robots" not in line, line
    [record] = [json.loads(x) for x in result.stdout.splitlines()]
    assert (record["status"], record["reason"]) == ("fetch_failed", "connect_error")


# --- the installed entry point -----------------------------------------------------------------


def _mediamon(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIAMON_"))}
    env.update({k: v for k, v in _env(home, **extra).items() if v is not None})
    return subprocess.run(
        [str(MEDIAMON), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_installed_command_prints_one_line_and_no_traceback(homes: dict[str, Path]) -> None:
    url = f"postgresql+psycopg://mediamon:{SECRET}@127.0.0.1:{free_port()}/mediamon"
    proc = _mediamon(["run"], homes["migrated"], MEDIAMON_WAREHOUSE_URL=url)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and SECRET not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: ")


def test_debug_shows_the_traceback(homes: dict[str, Path]) -> None:
    proc = _mediamon(["--debug", "summary"], homes["empty"])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("Traceback (most recent call last):"), proc.stderr[:500]
    # ... and still ends with the contract's line.
    assert proc.stderr.splitlines()[-1].startswith("error: warehouse at ")
    assert "not migrated" in proc.stderr.splitlines()[-1]


# --- run: readable text -------------------------------------------------------------------------


def test_run_text_is_a_table_of_stages_not_json() -> None:
    result = {
        "stages": {"poll": {"feeds_polled": 3, "by_status": {"ok": 2, "http_error": 1}}},
        "articles_by_status": {"published": 4, "fetch_failed": 1},
        "ledger": {"claims_linked": 2},
    }
    text = format_run("r-1", result, {"poll": 1.25, "finish": 0.5, "ledger": 0.25})
    lines = text.splitlines()
    assert lines[0] == "run r-1 finished in 2.0 s"
    assert lines[1].split() == ["stage", "seconds", "counts"]
    poll = next(x for x in lines if x.startswith("poll"))
    assert "1.2" in poll and "feeds_polled 3" in poll and "by_status (ok 2, http_error 1)" in poll
    assert any(x.startswith("ledger") and "claims_linked 2" in x for x in lines)
    assert lines[-1] == "Articles by status: fetch_failed 1, published 4"
    assert "{" not in text


def test_run_help_names_every_stage_it_runs(homes: dict[str, Path]) -> None:
    # The stages in the order run reports them (tests/test_cli.py checks that order on a run).
    shown = " ".join(_invoke(["run", "--help"], homes["migrated"]).stdout.split())
    for stage in ("poll", "fetch", "extract", "dedupe", "analyse", "gate", "finish", "ledger"):
        assert stage in shown, stage
