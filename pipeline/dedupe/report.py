"""What ``make demo`` prints for dedupe: stories with their first outlet, spread and labels."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.warehouse.schema import article, source
from pipeline.warehouse.schema_dedupe import article_dedupe, article_signature, story


def _short(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def demo_report(engine: Engine) -> str:
    """A compact table: one block per story with several published articles, then a tally."""
    with engine.connect() as conn:
        stories = conn.execute(
            sa.select(story, source.c.name.label("outlet"), article.c.title)
            .join(source, source.c.id == story.c.first_source_id)
            .join(article, article.c.id == story.c.first_article_id)
            .order_by(story.c.first_seen_at, story.c.id)
        ).all()
        members = conn.execute(
            sa.select(
                article_dedupe.c.story_id,
                article_dedupe.c.article_id,
                article_dedupe.c.label,
                article_dedupe.c.agency,
                article_dedupe.c.overlap,
                source.c.name.label("outlet"),
                article_signature.c.seen_at,
            )
            .join(article, article.c.id == article_dedupe.c.article_id)
            .join(source, source.c.id == article.c.source_id)
            .join(article_signature, article_signature.c.article_id == article_dedupe.c.article_id)
            # Published members only, as story.article_count and v_story_spread count them.
            .where(article.c.status == "published")
            .order_by(article_signature.c.seen_at, article_dedupe.c.article_id)
        ).all()
    by_story: dict[str, list[sa.Row[tuple[object, ...]]]] = {}
    for m in members:
        by_story.setdefault(m.story_id, []).append(m)
    lines = ["Stories (dedupe): first outlet, spread, and how each copy got there"]
    singles = 0
    for s in stories:
        if s.article_count < 2:
            singles += 1
            continue
        lines.append(
            f"  {s.first_seen_at:%Y-%m-%d}  {_short(s.title, 60):<60}  first: {s.outlet:<16}"
            f" {s.article_count} articles / {s.outlet_count} outlets"
        )
        for m in by_story.get(s.id, []):
            extra = f" via {m.agency}" if m.agency else ""
            overlap = f" overlap {m.overlap:.2f}" if m.overlap is not None else ""
            lines.append(f"      {m.seen_at:%Y-%m-%d}  {m.outlet:<16} {m.label}{extra}{overlap}")
    multi = len(stories) - singles
    lines.append(
        f"  {len(stories)} stories: {multi} with copies, {singles} single-article; "
        f"{len(members)} published articles"
    )
    return "\n".join(lines)
