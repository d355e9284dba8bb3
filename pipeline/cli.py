"""The ``mediamon`` command.

Error contract (issue 20), the same in every command: a mistake is one line on stderr that
names what to fix, with exit status 2 for usage and input errors (a bad option, a missing file,
an unknown name, an unusable registry or warehouse URL, an unmigrated warehouse) and 1 for
runtime failures (a database or host that cannot be reached, a busy port, a stage that failed).
``mediamon --debug COMMAND`` also prints the traceback. Commands raise
:class:`~pipeline.commands.common.UserError` / ``RuntimeFailure``; everything else that escapes
is translated here, at the edge, by :func:`describe_error`.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

# Typer carries its own copy of click; its usage errors are only importable from there.
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from pipeline.commands.common import (
    EXIT_RUNTIME_FAILURE,
    EXIT_USER_ERROR,
    OutputFormat,
    RuntimeFailure,
    UserError,
)
from pipeline.config import get_settings, mask_url, mask_urls_in_text
from pipeline.textfmt import text_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# Set by the --debug option for the invocation in progress (reset by every MediamonGroup.main).
_debug = {"on": False}


def _one_line(text: str) -> str:
    """``text`` on one line, passwords masked: what the error contract prints."""
    return mask_urls_in_text(" ".join(str(text).split()))


def _first_line(exc: BaseException) -> str:
    """The first line of a (driver's) message, without the SQL and parameters SQLAlchemy adds."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line for line in str(orig).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(orig).__name__


def _instance_of(exc: BaseException, module: str, name: str) -> bool:
    """Whether ``exc`` is ``module.name``, without importing the module: when it was never
    imported, nothing can have raised its exception (gate imports Great Expectations, slowly)."""
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


def _warehouse_shown() -> str:
    try:
        from pipeline.config import resolve_warehouse_url

        return mask_url(resolve_warehouse_url())
    except Exception:  # noqa: BLE001 - the URL itself is what is wrong; name its setting
        return "MEDIAMON_WAREHOUSE_URL"


def _database_error(exc: BaseException) -> tuple[str, int]:
    """A warehouse error as the user must act on it: not migrated (or behind), out of reach,
    or, when the schema is current and reachable, the database's own first line."""
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import current_revision, head_revision

    shown = _warehouse_shown()
    try:
        current = current_revision(get_engine())
    except Exception as probe:  # noqa: BLE001 - no revision to be had: out of reach
        return (
            f"cannot open the warehouse at {shown}: {_first_line(probe)} "
            "(check MEDIAMON_WAREHOUSE_URL and that the database is up)",
            EXIT_RUNTIME_FAILURE,
        )
    head = head_revision()
    if current is None:
        return (
            f"warehouse at {shown} is not migrated: run `mediamon db upgrade`",
            EXIT_USER_ERROR,
        )
    if current != head:
        return (
            f"warehouse at {shown} is at revision {current}, not {head}: "
            "run `mediamon db upgrade`",
            EXIT_USER_ERROR,
        )
    return f"warehouse at {shown}: {_first_line(exc)}", EXIT_RUNTIME_FAILURE


def _settings_error(exc: Any) -> str:
    """A pydantic ValidationError of Settings as ``MEDIAMON_X: what is wrong`` parts."""
    parts = []
    for err in exc.errors():
        name = "MEDIAMON_" + "_".join(str(p) for p in err.get("loc", ())).upper()
        parts.append(f"{name}: {err.get('msg', 'invalid')}")
    return "invalid setting " + "; ".join(parts)


# Exceptions whose message is written for the user: (module, class, exit status).
_USER_FACING = (
    ("pipeline.feeds", "RegistryError", EXIT_USER_ERROR),
    ("pipeline.feeds", "EntryError", EXIT_USER_ERROR),
    ("pipeline.warehouse.engine", "WarehouseUrlError", EXIT_USER_ERROR),
    ("pipeline.config", "WarehouseConnectionError", EXIT_RUNTIME_FAILURE),
    ("pipeline.quality.gate", "BatchRejectedError", EXIT_RUNTIME_FAILURE),
    ("pipeline.stages.runs", "StageFailedError", EXIT_RUNTIME_FAILURE),
    ("pipeline.fetch", "ArchiveError", EXIT_RUNTIME_FAILURE),
    ("pipeline.extract_worker", "WorkerStartError", EXIT_RUNTIME_FAILURE),
    ("pipeline.demo", "DemoError", EXIT_RUNTIME_FAILURE),
    ("pipeline.warehouse.migrate", "ForeignKeyViolationError", EXIT_RUNTIME_FAILURE),
)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The one line (without ``error:``) and the exit status for an exception that ended a
    command. Unknown exceptions are runtime failures named by their type."""
    if isinstance(exc, typer.TyperException):
        return exc.format_message(), exc.exit_code
    for module, name, code in _USER_FACING:
        if _instance_of(exc, module, name):
            return str(exc), code
    if _instance_of(exc, "pydantic_core", "ValidationError"):
        return _settings_error(exc), EXIT_USER_ERROR
    if _instance_of(exc, "sqlalchemy.exc", "DBAPIError"):
        return _database_error(exc)
    if isinstance(exc, OSError):
        return str(exc), EXIT_RUNTIME_FAILURE
    return (
        f"{type(exc).__name__}: {_first_line(exc)} (rerun with `mediamon --debug` for the "
        "traceback)",
        EXIT_RUNTIME_FAILURE,
    )


class MediamonGroup(TyperGroup):
    """The ``mediamon`` group: runs a command and turns whatever ends it into the error contract.

    ``main`` is what both the installed entry point and typer's CliRunner call, so tests of the
    app see exactly what a user sees.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line ``args``; exit with 0, 1 or 2 (see the module docstring)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        _debug["on"] = False
        try:
            self._main(args, prog_name, complete_var, **extra)
        finally:
            # In-process callers (tests, a host application) get their logging back as it was.
            logger = logging.getLogger("pipeline")
            logger.removeHandler(_log_handler)
            logger.setLevel(logging.NOTSET)

    def _main(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        **extra: Any,
    ) -> NoReturn:
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()  # the help text itself, for `mediamon` or `mediamon db` alone
            sys.exit(exc.exit_code)
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "mediamon"
            # Typer's value checks prefix their text with pydantic's "Value error, ".
            what = exc.format_message().replace("Value error, ", "")
            _fail(f"{where}: {what} (see `{where} --help`)", exc.exit_code)
        except typer.Abort:
            _fail("aborted", EXIT_RUNTIME_FAILURE)
        except Exception as exc:  # noqa: BLE001 - the edge: every error becomes one line
            if _debug["on"]:
                traceback.print_exc(file=sys.stderr)
            try:
                message, code = describe_error(exc)
            except Exception:  # noqa: BLE001 - describing must never replace the error itself
                message = f"{type(exc).__name__}: {_first_line(exc)}"
                code = EXIT_RUNTIME_FAILURE
            _fail(message, code)
        # Without standalone mode click returns the command's value, or the code it exited with.
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(code)


app = typer.Typer(
    cls=MediamonGroup,
    help="Mediamon: media monitoring pipeline.",
    no_args_is_help=True,
    # Tracebacks only with --debug, and then plain: a traceback with local variables would print
    # the warehouse URL and the driver's connection parameters, password included.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Warehouse schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class _StderrLog(logging.Handler):
    """The pipeline's log records on stderr, one line each, through the stream in force at the
    time (CliRunner swaps it per invocation).

    Without --debug only warnings are shown: every error the pipeline logs either ends the
    command, and the edge prints it as the one line of the contract, or is recorded in the
    warehouse where `mediamon summary` shows it (a feed whose poll failed).
    """

    def __init__(self) -> None:
        super().__init__()
        self.debug = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.debug:
            text = f"{record.levelname.lower()}: {record.name}: {self.format(record)}"
            typer.echo(mask_urls_in_text(text), err=True)
        elif record.levelno == logging.WARNING:
            typer.echo(f"warning: {_one_line(record.getMessage())}", err=True)


_log_handler = _StderrLog()


def _configure_logging(debug: bool) -> None:
    logger = logging.getLogger("pipeline")
    if _log_handler not in logger.handlers:
        logger.addHandler(_log_handler)
    _log_handler.debug = debug
    # INFO records pass the logger only with --debug; otherwise its level is left as configured
    # (a host application's, or the root's WARNING) and the handler keeps to warnings.
    logger.setLevel(logging.INFO if debug else logging.NOTSET)


@app.callback()
def main_options(
    debug: bool = typer.Option(
        False,
        "--debug",
        help="On an error also print the traceback, and log at INFO level. Exit status: 2 for "
        "usage and input errors, 1 for runtime failures.",
    ),
) -> None:
    """Mediamon: media monitoring pipeline."""
    _debug["on"] = debug
    _configure_logging(debug)


def _register_stage_commands() -> None:
    from pipeline.commands import claims, dedupe, extract, feeds, ledger, quality

    for module in (feeds, extract, dedupe, claims, ledger, quality):
        module.register(app)


def _migrate(direction: str, revision: str) -> None:
    from alembic.util import CommandError

    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import current_revision, downgrade, upgrade

    engine = get_engine()
    try:
        (upgrade if direction == "upgrade" else downgrade)(engine, revision)
    except CommandError as exc:
        # Alembic's words for a revision it does not have ("Can't locate revision ...").
        raise UserError(
            f"db {direction} --revision {revision!r}: {exc}; use head, base or a revision id "
            "from sql/migrations/versions"
        ) from exc
    # Named, so an operator sees which warehouse was migrated (or emptied).
    typer.echo(f"warehouse {_shown_url(engine)} at {current_revision(engine) or 'base'}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", help="Target revision.")) -> None:
    """Migrate the warehouse up to REVISION (default: latest) and refresh analyst views; a
    registry that never held a feed gets the feeds of MEDIAMON_FEEDS_FILE, if that file exists."""
    _migrate("upgrade", revision)
    if revision == "head":
        _seed_registry()


def _seed_registry() -> None:
    """Import MEDIAMON_FEEDS_FILE into a registry that has never held a feed (issue 17).

    Polling reads the warehouse only. This one-shot import carries a deployment whose registry
    was that file over, and seeds a fresh compose stack; once the registry has a feed, the file
    is never read again (`mediamon feeds import` changes the registry). Refused entries are one
    line each on stderr and exit 2, as in `feeds import`.
    """
    from pipeline.registry import seed_empty_registry
    from pipeline.warehouse import get_engine

    seeded = seed_empty_registry(get_engine(), get_settings().feeds_file)
    if seeded is None:
        return
    for refused in [*seeded.registry.refused, *seeded.counts.failed]:
        typer.echo(mask_urls_in_text(f"refused: {refused}"), err=True)
    typer.echo(f"imported {seeded.counts.added} feeds from {seeded.path} into the empty registry")
    if seeded.registry.refused or seeded.counts.failed:
        raise typer.Exit(EXIT_USER_ERROR)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Option("base", help="Target revision.")) -> None:
    """Migrate the warehouse down to REVISION (default: empty)."""
    _migrate("downgrade", revision)


def _shown_url(engine: Engine) -> str:
    """The engine's URL as printed: the password masked (output ends up in logs and terminals).

    SQLAlchemy hides the userinfo password; mask_url also hides a ``?password=`` parameter.
    """
    return mask_url(engine.url.render_as_string(hide_password=True))


@app.command("serve-samples")
def serve_samples(
    port: int = typer.Option(None, help="Port on 127.0.0.1 (default MEDIAMON_SAMPLES_PORT)."),
    directory: Path = typer.Option(None, "--dir", help="Corpus web root (default samples/site)."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on (0.0.0.0 in a container others reach by name)."
    ),
    base_url: str = typer.Option(
        None,
        "--base-url",
        help="Address the corpus links use, e.g. http://samples:8765 (default: the bound one).",
    ),
) -> None:
    """Serve the bundled demo corpus over HTTP (loopback by default) until interrupted."""
    from pipeline.samples import base_url_of, make_server

    settings = get_settings()
    root = directory or settings.samples_dir / "site"
    if not root.is_dir():
        raise UserError(f"serve-samples: no corpus directory at {root} (use --dir)")
    chosen = settings.samples_port if port is None else port
    try:
        server = make_server(root, chosen, host, base_url=base_url)
    except OSError as exc:
        raise RuntimeFailure(
            f"serve-samples: cannot listen on {host}:{chosen} ({exc.strerror or exc}); "
            "choose a free port with --port or MEDIAMON_SAMPLES_PORT"
        ) from exc
    typer.echo(f"serving {root} at {base_url or base_url_of(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _brief(counts: dict[str, Any]) -> str:
    """A stage's counts on one line: numbers as ``name n``, a breakdown as ``name (a 1, b 2)``,
    a list by its length; the finish stage's copy of every stage's counts is left out."""
    parts = []
    for key, value in counts.items():
        if key == "stages":
            continue
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in value.items() if not isinstance(v, dict))
            parts.append(f"{key} ({inner or 'none'})")
        elif isinstance(value, list | tuple):
            parts.append(f"{key} {len(value)}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts) or "nothing to do"


def format_run(run_id: str, result: dict[str, Any], seconds: dict[str, float]) -> str:
    """A readable rendering of :func:`pipeline.flow.run_ingest`'s result: one row per stage
    with its seconds and counts, then the articles by status."""
    stages = dict(result.get("stages") or {})
    if "ledger" in result:
        stages["ledger"] = result["ledger"]
    rows = [
        [name, f"{seconds[name]:.1f}" if name in seconds else "", _brief(counts)]
        for name, counts in stages.items()
    ]
    by_status = result.get("articles_by_status") or {}
    total = sum(seconds.values())
    return "\n".join(
        [
            f"run {run_id} finished in {total:.1f} s",
            text_table(rows, ["stage", "seconds", "counts"]),
            "",
            "Articles by status: "
            + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "none"),
        ]
    )


@app.command("run")
def run(
    run_id: str = typer.Option(None, help="Run id (default manual__<UTC time>)."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    progress: bool = typer.Option(
        None,
        "--progress/--no-progress",
        help="One line per stage on stderr as it finishes (default: when stderr is a terminal).",
    ),
    processes: int = typer.Option(
        None,
        "--processes",
        min=1,
        help="Processes that extract and analyse (default: MEDIAMON_PROCESSES, else one per "
        "core; 1: all in this process).",
    ),
) -> None:
    """Run every stage once without Airflow: poll, fetch, extract, dedupe, analyse, gate,
    finish, then the claim ledger. The warehouse must be migrated (`mediamon db upgrade`)."""
    import os

    from pipeline import flow

    if processes is not None:
        # Through the environment, which the stages' worker processes read too.
        os.environ["MEDIAMON_PROCESSES"] = str(processes)
        get_settings.cache_clear()

    rid = run_id or "manual__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    show = sys.stderr.isatty() if progress is None else progress
    seconds: dict[str, float] = {}

    def report(stage: str, counts: dict[str, Any], took: float) -> None:
        seconds[stage] = took
        if show:
            typer.echo(f"{stage:<8} {took:6.1f} s  {_brief(counts)}", err=True)

    counts = flow.run_ingest(rid, progress=report)
    if output is OutputFormat.json:
        typer.echo(json.dumps(counts, default=str))
    else:
        typer.echo(format_run(rid, counts, seconds))


@app.command("summary")
def summary(
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """What the warehouse holds: feeds and their last poll, articles by status and reason."""
    from pipeline.flow import warehouse_summary

    data = warehouse_summary()
    if output is OutputFormat.json:
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(format_summary(data))


@app.command("demo")
def demo() -> None:
    """Run the whole pipeline through Airflow on the bundled sample feeds, then summarise."""
    from pipeline.config import resolve_warehouse_url
    from pipeline.demo import DemoError, run_demo

    try:
        data = run_demo()
    except DemoError as exc:
        raise RuntimeFailure(f"demo failed: {exc}") from exc
    typer.echo("")
    typer.echo(format_summary(data))
    typer.echo(stage_reports())
    settings = get_settings()
    typer.echo(
        "\nWhere to look:\n"
        f"  warehouse     {mask_url(resolve_warehouse_url())}\n"
        "                views v_articles, v_feed_health, v_failures, v_story_spread,\n"
        "                v_duplicates, v_dq_summary, v_claims, v_claim_ledger,\n"
        "                v_claim_conflicts, v_claim_spread; table quarantine\n"
        f"  raw archive   {(settings.home / 'raw').resolve()}\n"
        f"  DQ Data Docs  {(settings.home / 'dq_docs' / 'index.html').resolve()}\n"
        f"  Airflow logs  {(settings.home / 'airflow' / 'logs').resolve()}\n"
        "  Airflow UI    make airflow, then http://localhost:8080"
    )


def stage_reports() -> str:
    """Each stage's own demo report (feed health, stories, claims, data quality)."""
    from pipeline import dedupe, feeds, quality
    from pipeline.ledger import report as ledger_report
    from pipeline.nlp import report as claims_report
    from pipeline.warehouse import get_engine

    engine = get_engine()
    parts = [
        feeds.demo_report(engine),
        dedupe.demo_report(engine),
        claims_report.demo_report(engine),
        quality.demo_report(engine),
        ledger_report.demo_report(engine),
    ]
    return "\n\n" + "\n\n".join(p.rstrip() for p in parts)


def format_summary(data: dict[str, Any]) -> str:
    """A readable rendering of :func:`pipeline.flow.warehouse_summary`."""
    feeds = [
        [
            f["source"],
            f["status"] or "never polled",
            f["http_status"] or "",
            f["entries_seen"] if f["entries_seen"] is not None else "",
            f["entries_new"] if f["entries_new"] is not None else "",
            (f["error"] or f["warning"] or "")[:70],
        ]
        for f in data["feeds"]
        if f["enabled"]
    ]
    out = [
        f"Feeds polled ({len(feeds)}):",
        text_table(feeds, ["source", "status", "http", "entries", "new", "error / warning"]),
        "",
        "Articles by status:",
        text_table(
            [[s, n] for s, n in sorted(data["articles_by_status"].items())], ["status", "articles"]
        ),
        "",
        "Failures by reason:",
        text_table(
            [[f["status"], f["reason"], f["count"]] for f in data["failures"]],
            ["status", "reason", "articles"],
        )
        if data["failures"]
        else "  none",
        "",
        "Rows: " + ", ".join(f"{k} {v}" for k, v in data["row_counts"].items()),
    ]
    return "\n".join(out)


_register_stage_commands()
