"""`mediamon quarantine list|release` (issue 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from pipeline.commands.common import UserError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

quarantine_app = typer.Typer(help="Rows held back by the quality gate.", no_args_is_help=True)


@quarantine_app.command("list")
def list_rows(
    expectation: str = typer.Option(None, help="Only this expectation (article.title_not_null)."),
    released: bool = typer.Option(False, "--released", help="Include released rows."),
    limit: int = typer.Option(100, help="At most this many rows, newest first."),
) -> None:
    """List quarantined rows with their expectation, reason and observed value."""
    from pipeline.quality.release import list_quarantine
    from pipeline.warehouse import get_engine

    rows = list_quarantine(
        get_engine(), expectation=expectation, include_released=released, limit=limit
    )
    if not rows:
        typer.echo("no quarantined rows")
        return
    for r in rows:
        state = f"released {r.released_at:%Y-%m-%d %H:%M}" if r.released_at else "open"
        typer.echo(
            f"{r.id:>6}  {r.entity:<9} {r.entity_id[:16]:<16}  {r.expectation:<36} {state}\n"
            f"        {r.reason}; observed: {r.observed_value}  (run {r.run_id})"
        )


@quarantine_app.command("release")
def release_rows(
    ids: list[int] = typer.Argument(None, help="Quarantine row ids (see `quarantine list`)."),
    release_all: bool = typer.Option(False, "--all", help="Release every open row."),
    expectation: str = typer.Option(None, help="With --all: only rows of this expectation."),
) -> None:
    """Release rows after a fix: their articles go back to `analysed` for the next gate run."""
    from pipeline.quality.release import release
    from pipeline.warehouse import get_engine

    if not ids and not release_all:
        raise UserError("quarantine release: name quarantine ids, or pass --all [--expectation X]")
    engine = get_engine()
    if ids:
        _check_ids(engine, ids)
    result = release(engine, ids=ids or (), expectation=expectation, release_all=release_all)
    typer.echo(
        f"released {result.rows_released} row(s); {result.articles_requeued} article(s) back to "
        f"analysed for the next gate run; {result.articles_still_held} still held by other "
        f"reasons; {result.claims_unheld} claim(s) back in the claim views and the ledger's "
        f"queue; {result.claims_still_held} claim(s) still held"
    )


def _check_ids(engine: Engine, ids: list[int]) -> None:
    """Refuse ids with no quarantine row: releasing them would do nothing, silently."""
    import sqlalchemy as sa

    from pipeline.warehouse.schema_quality import quarantine
    from pipeline.warehouse.upsert import chunks

    found: set[int] = set()
    with engine.connect() as conn:
        for chunk in chunks(sorted(set(ids))):
            query = sa.select(quarantine.c.id).where(quarantine.c.id.in_(chunk))
            found.update(conn.execute(query).scalars())
    missing = sorted(set(ids) - found)
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise UserError(
            f"quarantine release: no quarantine row {shown} (see `mediamon quarantine list`)"
        )


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the ``mediamon`` app."""
    app.add_typer(quarantine_app, name="quarantine")
