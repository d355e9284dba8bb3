"""`mediamon feeds add|list|remove|import|import-opml|export-opml|poll` (issues 3, 17).

The registry is the warehouse's ``feed`` table: these commands read and write it there, and a
feeds.yaml or OPML file is only an import source, read once by ``import`` / ``import-opml``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from pipeline.commands.common import EXIT_USER_ERROR, OutputFormat

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from pipeline.feeds import Registry

feeds_app = typer.Typer(
    help="The feed registry (in the warehouse), its imports and exports, and feed polling.",
    no_args_is_help=True,
)


def _echo(message: str, err: bool = False) -> None:
    """Print a line with any password in a feed URL masked (a feed's URL may carry the login of
    a paywalled source); `export-opml` alone writes URLs as they are."""
    from pipeline.config import mask_urls_in_text

    typer.echo(mask_urls_in_text(message), err=err)


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: how every refused input ends, never a traceback."""
    _echo(message, err=True)
    raise typer.Exit(EXIT_USER_ERROR)


def _engine() -> Engine:
    """The warehouse, migrated: the registry is its ``feed`` table, and these commands are
    often the first an operator runs on a new one."""
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


def _where(engine: Engine) -> str:
    """The registry as named in messages: the warehouse it lives in, password masked."""
    from pipeline.config import mask_url

    return "the registry of " + mask_url(engine.url.render_as_string(hide_password=True))


ReplaceOption = typer.Option(
    False,
    "--replace",
    help="Make the registry exactly this list: update the feeds listed, disable the others "
    "(default: merge, adding only the feeds not registered yet).",
)


@feeds_app.command("add")
def add(
    url: str = typer.Argument(..., help="Feed URL (http or https)."),
    source: str = typer.Option(..., "--source", help="Outlet name, e.g. 'Meridian Post'."),
    language: str = typer.Option(None, help="Language code of the feed, e.g. en."),
    tag: list[str] = typer.Option(None, "--tag", help="Tag (repeatable)."),
    interval: int = typer.Option(None, help="Fixed poll interval in seconds (default: adaptive)."),
) -> None:
    """Register a feed (polled from the next run on)."""
    from pipeline.feeds import EntryError, make_spec
    from pipeline.registry import add_feed

    try:
        spec = make_spec(url, source, language, list(tag or ()), interval)
    except EntryError as exc:
        _fail(f"error: refused: {exc}")
    engine = _engine()
    total = add_feed(engine, spec)
    if total is None:
        _fail(f"error: {spec.url} is already in {_where(engine)} (see `mediamon feeds list`)")
    _echo(f"added {spec.url} ({spec.source}) to {_where(engine)}; {total} feeds")


@feeds_app.command("remove")
def remove(url: str = typer.Argument(..., help="Feed URL as listed.")) -> None:
    """Remove a feed from the registry (its polls and articles stay in the warehouse)."""
    from pipeline.registry import remove_feed

    engine = _engine()
    total = remove_feed(engine, url)
    if total is None:
        _fail(f"error: {url} is not in {_where(engine)} (see `mediamon feeds list`)")
    _echo(f"removed {url} from {_where(engine)}; {total} feeds")


@feeds_app.command("list")
def list_feeds(
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """Registered feeds with their health: status, failures, interval, next poll, 304 rate."""
    from pipeline.feeds import feed_health_rows, format_health

    engine = _engine()
    rows = [r for r in feed_health_rows(engine) if r["enabled"]]
    for row in rows:
        if row["status"] == "new" and not row["polls"]:
            row["status"] = "never polled"  # registered, waiting for its first poll run
    if output is OutputFormat.json:
        _echo(json.dumps(rows, default=str))
    elif not rows:
        _echo(
            f"no feeds in {_where(engine)}; add one with `mediamon feeds add URL` or import a "
            "list with `mediamon feeds import FILE`"
        )
    else:
        _echo(format_health(rows))


@feeds_app.command("import-opml")
def import_opml_cmd(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    replace: bool = ReplaceOption,
) -> None:
    """Register every feed of an OPML file (merging: feeds already registered are skipped).

    An outline that fails the registry's checks is refused on stderr with its line and the
    others are imported; the exit status is then 2. A file that is not XML changes nothing.
    """
    from pipeline.feeds import RegistryError, import_opml

    try:
        found = import_opml(path.read_bytes())
    except RegistryError as exc:
        _fail(f"error: {path}: {exc}")
    _import(found, f"{path} ", replace=replace)


@feeds_app.command("import")
def import_yaml_cmd(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    replace: bool = ReplaceOption,
) -> None:
    """Register every feed of a feeds.yaml (merging: feeds already registered are skipped).

    The file is read once, here: polling reads the warehouse only. An entry that fails the
    registry's checks is refused on stderr with its line and the others are imported; the exit
    status is then 2. A file that is not YAML changes nothing.
    """
    from pipeline.feeds import RegistryError, load_registry

    try:
        found = load_registry(path)
    except RegistryError as exc:
        _fail(f"error: {exc}")
    _import(found, "", replace=replace)


def _import(found: Registry, where: str, *, replace: bool) -> None:
    """Write the feeds of ``found`` to the registry; refusals one line each, then exit 2.

    With ``replace``, a feed whose entry was refused is left as it was rather than disabled.
    """
    from pipeline.registry import import_feeds

    for refused in found.refused:
        _echo(f"refused: {where}{refused}", err=True)
    engine = _engine()
    keep = [r.url for r in found.refused if r.url]
    counts = import_feeds(engine, found.specs, replace=replace, keep=keep)
    for failed in counts.failed:
        _echo(f"refused: {where}{failed}", err=True)
    refusals = len(found.refused) + len(counts.failed)
    _echo(
        f"imported {counts.added} feeds ({counts.listed} already listed, {refusals} refused) "
        f"into {_where(engine)}" + (f"; disabled {counts.removed} not listed" if replace else "")
    )
    if refusals:
        raise typer.Exit(EXIT_USER_ERROR)


@feeds_app.command("export-opml")
def export_opml_cmd(
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
) -> None:
    """Write the registered feeds as OPML 2.0 (e.g. to edit them, then `import --replace`)."""
    from pipeline.feeds import export_opml
    from pipeline.registry import registered_specs

    with _engine().connect() as conn:
        data = export_opml(registered_specs(conn))
    if output is None:
        typer.echo(data.decode("utf-8"))
    else:
        output.write_bytes(data)
        _echo(f"wrote {output}")


@feeds_app.command("poll")
def poll(
    all_feeds: bool = typer.Option(False, "--all", help="Poll every feed, due or not."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    run_id: str = typer.Option(None, help="Run id (default manual_poll__<UTC time>)."),
) -> None:
    """Poll due (or all) feeds once, record everything as a scheduled run would, print results."""
    import sqlalchemy as sa

    from pipeline import flow
    from pipeline.registry import NO_FEEDS_REGISTERED
    from pipeline.warehouse.schema import feed, feed_poll

    engine = _engine()
    rid = run_id or "manual_poll__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    counts = flow.poll_feeds(rid, all_feeds=True if all_feeds else None)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(
                    feed.c.url,
                    feed_poll.c.status,
                    feed_poll.c.http_status,
                    feed_poll.c.entries_seen,
                    feed_poll.c.entries_new,
                    feed_poll.c.error,
                )
                .join(feed, feed.c.id == feed_poll.c.feed_id)
                .where(feed_poll.c.run_id == rid)
                .order_by(feed.c.url)
            )
            .mappings()
            .all()
        )
    results = [dict(r) for r in rows]
    if output is OutputFormat.json:
        _echo(json.dumps(results, default=str))
        return
    if not counts["feeds_registered"]:
        _echo(NO_FEEDS_REGISTERED)
    elif not results:
        _echo("no feed was due; use --all to poll every feed now")
    for r in results:
        _echo(
            f"{r['url']}  {r['status']}  http={r['http_status'] or '-'}  "
            f"seen={r['entries_seen']} new={r['entries_new']}"
            + (f"  error: {r['error']}" if r["error"] else "")
        )


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the ``mediamon`` app."""
    app.add_typer(feeds_app, name="feeds")
