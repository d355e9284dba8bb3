"""`mediamon dedupe PATH...` (issue 5): dedupe and cluster local pages or text files."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.commands.common import OutputFormat

if TYPE_CHECKING:
    from pipeline.dedupe import Document

HTML_SUFFIXES = (".html", ".htm", ".xhtml")


def _read(path: Path, published_at: datetime) -> tuple[Document | None, str | None]:
    """A Document for ``path``, or (None, reason) when no text could be taken from it."""
    from pipeline.dedupe import Document
    from pipeline.extract import extract

    key = str(path)
    if path.suffix.lower() in HTML_SUFFIXES:
        result = extract(
            path.read_bytes(),
            url=path.resolve().as_uri(),
            content_type="text/html",
            fetched_at=published_at,
            min_chars=1,
        )
        if result.article is None:
            return None, f"{result.reason}: {result.detail}"
        art = result.article
        outlet = art.sitename or path.parent.name or "unknown"
        return Document(key, outlet, art.title, art.text, published_at), None
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        return None, "no_text: empty file"
    title = text.splitlines()[0].strip()
    return Document(key, path.parent.name or "unknown", title, text, published_at), None


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the ``mediamon`` app."""

    @app.command("dedupe")
    def dedupe_command(
        paths: list[Path] = typer.Argument(
            ..., exists=True, dir_okay=False, help="HTML pages or text files, oldest first."
        ),
        fmt: OutputFormat = typer.Option(
            OutputFormat.text, "--format", help="text or json (one object per line)."
        ),
        warehouse: str = typer.Option(
            None, help="Warehouse URL to dedupe against (default: a throwaway SQLite file)."
        ),
    ) -> None:
        """Dedupe and cluster PATHs with the pipeline's own code; file order is publication order.

        Prints, per input: its story (the first input of the story), duplicate_of, label
        (original / wire_copy / rewrite / independent), copied_from and similarity.
        """
        from pipeline.config import get_settings, normalize_db_url
        from pipeline.dedupe import DedupeConfig, dedupe_documents
        from pipeline.warehouse import make_engine
        from pipeline.warehouse.migrate import upgrade

        # File order is publication order: one second apart, ending now (inside retention).
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=len(paths))
        docs: list[Document] = []
        errors: dict[str, str | None] = {}
        for i, path in enumerate(paths):
            doc, reason = _read(path, start + timedelta(seconds=i))
            if doc is None:
                errors[str(path)] = reason
            else:
                docs.append(doc)
        settings = get_settings()
        with tempfile.TemporaryDirectory(prefix="mediamon-dedupe-") as tmp:
            url = normalize_db_url(warehouse) if warehouse else f"sqlite:///{Path(tmp) / 'w.db'}"
            engine = make_engine(url)
            try:
                upgrade(engine)
                results = dedupe_documents(engine, docs, DedupeConfig.from_settings(settings))
            finally:
                engine.dispose()
        by_input = {r.input: r for r in results}
        for path in paths:
            key = str(path)
            if key in errors:
                row: dict[str, object] = {"input": key, "error": errors[key]}
            else:
                r = by_input[key]
                row = {
                    "input": r.input,
                    "story": r.story,
                    "duplicate_of": r.duplicate_of,
                    "label": r.label,
                    "copied_from": r.copied_from,
                    "similarity": r.similarity,
                    "duplicate_kind": r.duplicate_kind,
                    "overlap": r.overlap,
                    "agency": r.agency,
                }
            if fmt is OutputFormat.json:
                typer.echo(json.dumps(row, ensure_ascii=False))
            elif "error" in row:
                typer.echo(f"{key}: not deduped ({row['error']})")
            else:
                sim = f"{r.similarity:.2f}" if r.similarity is not None else "-"
                typer.echo(
                    f"{key}: {r.label} story={r.story} duplicate_of={r.duplicate_of or '-'} "
                    f"copied_from={r.copied_from or '-'} similarity={sim}"
                )
