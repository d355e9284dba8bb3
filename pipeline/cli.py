"""The ``mediamon`` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from pipeline.config import get_settings, mask_url
from pipeline.textfmt import text_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(
    help="Mediamon: media monitoring pipeline.",
    no_args_is_help=True,
    # A traceback with local variables would print the warehouse URL and the driver's connection
    # parameters, password included; pinned here rather than left to Typer's default.
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Warehouse schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _register_stage_commands() -> None:
    from pipeline.commands import claims, dedupe, extract, feeds, ledger, quality

    for module in (feeds, extract, dedupe, claims, ledger, quality):
        module.register(app)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", help="Target revision.")) -> None:
    """Migrate the warehouse up to REVISION (default: latest) and refresh analyst views."""
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import current_revision, upgrade

    engine = get_engine()
    upgrade(engine, revision)
    typer.echo(f"warehouse {_shown_url(engine)} at {current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Option("base", help="Target revision.")) -> None:
    """Migrate the warehouse down to REVISION (default: empty)."""
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import current_revision, downgrade

    engine = get_engine()
    downgrade(engine, revision)
    # Named, like upgrade does, so an operator sees which warehouse was emptied.
    typer.echo(f"warehouse {_shown_url(engine)} at {current_revision(engine) or 'base'}")


def _shown_url(engine: Engine) -> str:
    """The engine's URL as printed: the password masked (output ends up in logs and terminals).

    SQLAlchemy hides the userinfo password; mask_url also hides a ``?password=`` parameter.
    """
    return mask_url(engine.url.render_as_string(hide_password=True))


@app.command("serve-samples")
def serve_samples(
    port: int = typer.Option(None, help="Port on 127.0.0.1 (default MEDIAMON_SAMPLES_PORT)."),
    directory: Path = typer.Option(None, "--dir", help="Corpus web root (default samples/site)."),
) -> None:
    """Serve the bundled demo corpus over HTTP on loopback until interrupted."""
    from pipeline.samples import base_url_of, make_server

    settings = get_settings()
    root = directory or settings.samples_dir / "site"
    server = make_server(root, settings.samples_port if port is None else port)
    typer.echo(f"serving {root} at {base_url_of(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("run")
def run(
    run_id: str = typer.Option(None, help="Run id (default manual__<UTC time>)."),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Run the ingest stages once without Airflow (poll, fetch, extract, record)."""
    from pipeline import flow

    rid = run_id or "manual__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    counts = flow.run_ingest(rid)
    if output == "json":
        typer.echo(json.dumps(counts, default=str))
    else:
        typer.echo(f"run {rid}: {json.dumps(counts, default=str, indent=2)}")


@app.command("summary")
def summary(output: str = typer.Option("text", "--format", help="text or json.")) -> None:
    """What the warehouse holds: feeds and their last poll, articles by status and reason."""
    from pipeline.flow import warehouse_summary

    data = warehouse_summary()
    if output == "json":
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
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from exc
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
