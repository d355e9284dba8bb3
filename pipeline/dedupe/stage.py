"""Dedupe over the warehouse queue: articles in status ``extracted`` become ``deduped``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.dates import as_utc
from pipeline.dedupe.features import DedupeConfig, DedupeInput, features
from pipeline.dedupe.index import dedupe_batch, lock, prune_bands, restore_bands
from pipeline.warehouse.schema import article, source


@dataclass
class StageCounts:
    """Counts one dedupe run returns (they travel through XCom)."""

    deduped: int = 0
    skipped: int = 0
    links: int = 0
    batches: int = 0
    bands_pruned: int = 0
    # lsh_band rows rebuilt from signatures after the table was found empty (crash recovery).
    bands_restored: int = 0
    stories_touched: int = 0
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The counts without the ids."""
        return {
            "deduped": self.deduped,
            "skipped": self.skipped,
            "links": self.links,
            "batches": self.batches,
            "bands_pruned": self.bands_pruned,
            "bands_restored": self.bands_restored,
            "stories_touched": self.stories_touched,
        }


def _seen_at() -> sa.ColumnElement[datetime]:
    return sa.func.coalesce(article.c.published_at, article.c.discovered_at)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def seen_at(
    published_at: datetime | None, feed_published_at: datetime | None, discovered_at: datetime
) -> datetime:
    """When an article was first out: the page's date, made precise by the feed's when possible.

    Pages often carry only a date (midnight), while the feed has the minute; two outlets on the
    same day would otherwise tie, and "who was first" would fall to the article id.
    """
    page, entry = _aware(published_at), _aware(feed_published_at)
    if page is None:
        return entry or _aware(discovered_at) or discovered_at
    midnight = (page.hour, page.minute, page.second, page.microsecond) == (0, 0, 0, 0)
    if midnight and entry is not None and entry.date() == page.date():
        return entry
    return page


def _pending(conn: Connection, limit: int) -> list[str]:
    query = (
        sa.select(article.c.id)
        .where(article.c.status == "extracted")
        .order_by(_seen_at(), article.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def load_inputs(conn: Connection, ids: list[str]) -> list[DedupeInput]:
    """The dedupe inputs of the given extracted articles (text, title, time, outlet)."""
    rows = conn.execute(
        sa.select(
            article.c.id,
            article.c.source_id,
            source.c.name,
            article.c.title,
            article.c.text,
            article.c.content_hash,
            article.c.published_at,
            article.c.feed_published_at,
            article.c.discovered_at,
        )
        .join(source, source.c.id == article.c.source_id)
        .where(article.c.id.in_(ids), article.c.status == "extracted")
    ).all()
    return [
        DedupeInput(
            article_id=r.id,
            source_id=r.source_id,
            outlet=r.name,
            title=r.title,
            text=r.text or "",
            seen_at=seen_at(r.published_at, r.feed_published_at, r.discovered_at),
            content_hash=r.content_hash,
        )
        for r in rows
    ]


def run_dedupe(
    engine: Engine,
    cfg: DedupeConfig,
    *,
    batch_size: int,
    now: datetime | None = None,
    ids: list[str] | None = None,
) -> StageCounts:
    """Dedupe every extracted article (or just ``ids``), one transaction per batch.

    Stops when no article is left in status ``extracted``; a batch another worker finished first
    is skipped inside the lock, so running several of these at once is safe.
    """
    now = now or datetime.now(UTC)
    counts = StageCounts()
    with engine.begin() as conn:
        lock(conn)
        counts.bands_restored = restore_bands(conn, cfg, now=now)
        counts.bands_pruned = prune_bands(conn, cfg, now=now)
    handed: set[str] = set()
    queue = list(ids) if ids is not None else None
    while True:
        if queue is not None:
            batch_ids, queue = queue[:batch_size], queue[batch_size:]
        else:
            with engine.connect() as conn:
                batch_ids = [i for i in _pending(conn, batch_size + len(handed)) if i not in handed]
            batch_ids = batch_ids[:batch_size]
        if not batch_ids:
            return counts
        handed.update(batch_ids)
        with engine.connect() as conn:
            inputs = load_inputs(conn, batch_ids)
        feats = [features(item, cfg) for item in inputs]
        with engine.begin() as conn:
            result = dedupe_batch(conn, feats, cfg, now=now)
            if result.processed:
                conn.execute(
                    sa.update(article)
                    .where(article.c.id.in_(result.processed), article.c.status == "extracted")
                    .values(status="deduped", updated_at=now)
                )
        counts.batches += 1
        counts.deduped += len(result.processed)
        counts.skipped += result.skipped
        counts.links += result.links
        counts.stories_touched += result.stories_touched
        counts.ids.extend(result.processed)
