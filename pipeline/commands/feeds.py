"""`mediamon feeds add|list|remove|import|import-opml|export-opml|poll` (issue 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from pipeline.commands.common import EXIT_USER_ERROR, OutputFormat
from pipeline.config import get_settings

if TYPE_CHECKING:
    from pipeline.feeds import FeedSpec, Registry

feeds_app = typer.Typer(
    help="The feed registry (feeds.yaml) and feed polling.", no_args_is_help=True
)



def _echo(message: str, err: bool = False) -> None:
    """Print a line with any password in a feed URL masked (a feed's URL may carry the login of
    a paywalled source); `export-opml` alone writes URLs as they are."""
    from pipeline.config import mask_urls_in_text

    typer.echo(mask_urls_in_text(message), err=err)

def _registry_path() -> Path:
    return get_settings().feeds_file


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: how every refused input ends, never a traceback."""
    _echo(message, err=True)
    raise typer.Exit(EXIT_USER_ERROR)


def _registry(*, for_write: bool) -> list[FeedSpec]:
    """The registry's valid feeds. Refused entries are reported one line each on stderr; a
    command that rewrites the file stops there (exit 2), since rewriting would drop them."""
    from pipeline.feeds import RegistryError, read_registry_or_empty

    path = _registry_path()
    try:
        registry = read_registry_or_empty(path)
    except RegistryError as exc:
        _fail(f"error: {exc}")
    if registry.refused and for_write:
        # One line, the first refusal: rewriting the file now would drop the refused entries.
        more = len(registry.refused) - 1
        _fail(
            f"error: {registry.refused[0]}; fix {'these entries' if more else 'it'} before "
            f"changing {path}" + (f" ({more} more refused)" if more else "")
        )
    for refused in registry.refused:
        _echo(f"refused: {refused}", err=True)
    return registry.specs


@feeds_app.command("add")
def add(
    url: str = typer.Argument(..., help="Feed URL (http or https)."),
    source: str = typer.Option(..., "--source", help="Outlet name, e.g. 'Meridian Post'."),
    language: str = typer.Option(None, help="Language code of the feed, e.g. en."),
    tag: list[str] = typer.Option(None, "--tag", help="Tag (repeatable)."),
    interval: int = typer.Option(None, help="Fixed poll interval in seconds (default: adaptive)."),
) -> None:
    """Add a feed to the registry."""
    from pipeline.feeds import EntryError, make_spec, save_registry

    try:
        spec = make_spec(url, source, language, list(tag or ()), interval)
    except EntryError as exc:
        _fail(f"error: refused: {exc}")
    path = _registry_path()
    specs = _registry(for_write=True)
    if any(s.url == spec.url for s in specs):
        _fail(f"error: {spec.url} is already in {path}")
    specs.append(spec)
    save_registry(path, specs)
    _echo(f"added {spec.url} ({spec.source}) to {path}; {len(specs)} feeds")


@feeds_app.command("remove")
def remove(url: str = typer.Argument(..., help="Feed URL as listed.")) -> None:
    """Remove a feed from the registry (its polls and articles stay in the warehouse)."""
    from pipeline.feeds import save_registry

    path = _registry_path()
    specs = _registry(for_write=True)
    kept = [s for s in specs if s.url != url]
    if len(kept) == len(specs):
        _fail(f"error: {url} is not in {path} (see `mediamon feeds list`)")
    save_registry(path, kept)
    _echo(f"removed {url} from {path}; {len(kept)} feeds (disabled at the next poll run)")


@feeds_app.command("list")
def list_feeds(
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """Registered feeds with their health: status, failures, interval, next poll, 304 rate."""
    from pipeline.feeds import feed_health_rows, format_health
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    rows = {r["url"]: r for r in feed_health_rows(engine)}
    merged = []
    for spec in _registry(for_write=False):
        row = rows.get(spec.url) or {
            "source": spec.source,
            "url": spec.url,
            "poll_url": None,
            "enabled": True,
            "status": "never polled",
            "failures": 0.0,
            "poll_interval_s": None,
            "next_poll_at": None,
            "last_error": None,
            "polls": 0,
            "unchanged": 0,
            "http304": 0,
            "bytes": 0,
        }
        merged.append(row)
    if output is OutputFormat.json:
        _echo(json.dumps(merged, default=str))
    elif not merged:
        _echo(f"no feeds in {_registry_path()}; add one with `mediamon feeds add URL`")
    else:
        _echo(format_health(merged))


@feeds_app.command("import-opml")
def import_opml_cmd(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Add every feed of an OPML file to the registry (feeds already listed are skipped).

    An outline that fails the registry's checks is refused on stderr with its line and the
    others are imported; the exit status is then 2.
    """
    from pipeline.feeds import RegistryError, import_opml

    try:
        found = import_opml(path.read_bytes())
    except RegistryError as exc:
        _fail(f"error: {path}: {exc}")
    _merge(found, f"{path} ")


@feeds_app.command("import")
def import_yaml_cmd(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Add every feed of another feeds.yaml to the registry (feeds already listed are skipped).

    An entry that fails the registry's checks is refused on stderr with its line and the others
    are imported; the exit status is then 2. A file that is not YAML changes nothing.
    """
    from pipeline.feeds import RegistryError, load_registry

    try:
        found = load_registry(path)
    except RegistryError as exc:
        _fail(f"error: {exc}")
    _merge(found, "")


def _merge(found: Registry, where: str) -> None:
    """Add the feeds of ``found`` not yet listed; refusals one line each, then exit 2."""
    from pipeline.feeds import save_registry

    for refused in found.refused:
        _echo(f"refused: {where}{refused}", err=True)
    registry = _registry_path()
    specs = _registry(for_write=True)
    known = {s.url for s in specs}
    added = [s for s in found.specs if s.url not in known]
    save_registry(registry, specs + added)
    _echo(
        f"imported {len(added)} feeds ({len(found.specs) - len(added)} already listed, "
        f"{len(found.refused)} refused) into {registry}"
    )
    if found.refused:
        raise typer.Exit(EXIT_USER_ERROR)


@feeds_app.command("export-opml")
def export_opml_cmd(
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
) -> None:
    """Write the registry as OPML 2.0 (entries the registry refuses are left out, on stderr)."""
    from pipeline.feeds import export_opml

    data = export_opml(_registry(for_write=False))
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
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema import feed, feed_poll

    engine = get_engine()
    upgrade(engine)
    rid = run_id or "manual_poll__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    flow.poll_feeds(rid, all_feeds=True if all_feeds else None)
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
    if not results:
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
