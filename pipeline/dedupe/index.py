"""The warehouse side of dedupe: the lock, the persistent LSH index, links and story rows.

One call of ``dedupe_batch`` runs inside ONE transaction that first takes the dedupe lock
(PostgreSQL advisory transaction lock; SQLite ``BEGIN IMMEDIATE``). Holding it while querying the
index and writing the results means two workers can never both miss each other's articles (which
would split a story) or both link the same article (the second sees it already indexed and
skips it). Signatures are computed before the lock, so the locked part is only index lookups and
inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.dates import as_utc
from pipeline.dedupe.cluster import Link, Member, assign_story, components
from pipeline.dedupe.features import DedupeConfig, Features
from pipeline.dedupe.minhash import containment, from_bytes, jaccard, to_bytes
from pipeline.warehouse.engine import UnsupportedDialectError
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_dedupe import (
    article_dedupe,
    article_signature,
    dedupe_link,
    lsh_band,
    story,
)
from pipeline.warehouse.upsert import upsert

# Advisory lock key: "dedupe" as a number, so it cannot collide with another stage's key by luck.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ADVISORY_LOCK_KEY = int.from_bytes(b"mm:dedup", "big") & 0x7FFFFFFFFFFFFFFF


@dataclass(frozen=True)
class BatchResult:
    """What one batch did."""

    processed: list[str]
    skipped: int
    links: int
    stories_touched: int


def lock(conn: Connection) -> None:
    """Take the dedupe write lock for the rest of this transaction (must be its first statement)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # pysqlite begins transactions lazily as DEFERRED; an explicit IMMEDIATE takes the write
        # lock now, before we read the index, so no other writer can slip in between.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise UnsupportedDialectError(conn.dialect.name)


def _member(row: Any) -> Member:
    return Member(
        article_id=row.article_id,
        source_id=row.source_id,
        seen_at=as_utc(row.seen_at),
        content_hash=row.content_hash,
        title_hash=row.title_hash,
        agency=row.agency,
    )


def _candidates(conn: Connection, f: Features, cfg: DedupeConfig) -> list[Any]:
    m = f.member
    near_pairs = list(enumerate(f.near_bands))
    story_pairs = [(cfg.lsh.bands + i, h) for i, h in enumerate(f.story_bands)]
    key = sa.tuple_(lsh_band.c.band, lsh_band.c.hash)
    by_band = sa.select(lsh_band.c.article_id).where(key.in_(near_pairs))
    # Story bands are looser (more rows collide by chance), so only articles within the story
    # window are asked: the number of false candidates then follows a few days of news, not
    # the whole index.
    days = cfg.story_window.days + 1
    day = day_number(m.seen_at)
    by_story_band = sa.select(lsh_band.c.article_id).where(
        key.in_(story_pairs), lsh_band.c.day.between(day - days, day + days)
    )
    by_hash = sa.select(article_signature.c.article_id).where(
        article_signature.c.content_hash == m.content_hash
    )
    parts = [by_band, by_story_band, by_hash]
    if m.title_hash is not None:
        parts.append(
            sa.select(article_signature.c.article_id).where(
                article_signature.c.source_id == m.source_id,
                article_signature.c.title_hash == m.title_hash,
                article_signature.c.seen_at.between(
                    m.seen_at - cfg.title_window, m.seen_at + cfg.title_window
                ),
            )
        )
    # One round trip: the lock is held while we query, so every saved trip is saved throughput.
    candidate_ids = sa.union(*parts).subquery()
    query = (
        sa.select(article_signature)
        .where(
            article_signature.c.article_id.in_(sa.select(candidate_ids.c.article_id)),
            article_signature.c.article_id != m.article_id,
        )
        .order_by(article_signature.c.article_id)
    )
    return list(conn.execute(query))


def _verify(f: Features, row: Any, cfg: DedupeConfig) -> Link | None:
    m, other = f.member, _member(row)
    sim = jaccard(f.signature, from_bytes(row.signature))
    gap = abs(m.seen_at - other.seen_at)
    if m.content_hash == other.content_hash:
        kind, sim = "exact", 1.0
    elif not f.shingle_count or not row.shingle_count:
        return None  # an empty text's signature equals every other empty one: no evidence
    elif (
        m.title_hash is not None
        and m.source_id == other.source_id
        and m.title_hash == other.title_hash
        and gap <= cfg.title_window
    ):
        kind = "title"
    elif sim >= cfg.near_threshold:
        kind = "near"
    elif sim >= cfg.story_threshold and gap <= cfg.story_window:
        kind = "story"
    else:
        return None
    mine = containment(sim, f.shingle_count, row.shingle_count)
    theirs = containment(sim, row.shingle_count, f.shingle_count)
    if m.article_id < other.article_id:
        return Link(m.article_id, other.article_id, kind, sim, mine, theirs)
    return Link(other.article_id, m.article_id, kind, sim, theirs, mine)


def day_number(when: datetime) -> int:
    """Whole days since 1970-01-01 UTC: the time bucket of story bands."""
    return (as_utc(when) - EPOCH).days


def _index(conn: Connection, f: Features, cfg: DedupeConfig, now: datetime) -> None:
    m = f.member
    day = day_number(m.seen_at)
    conn.execute(
        sa.insert(article_signature),
        [
            {
                "article_id": m.article_id,
                "source_id": m.source_id,
                "seen_at": m.seen_at,
                "content_hash": m.content_hash,
                "title_hash": m.title_hash,
                "shingle_count": f.shingle_count,
                "signature": to_bytes(f.signature),
                "agency": m.agency,
                "created_at": now,
            }
        ],
    )
    conn.execute(
        sa.insert(lsh_band),
        [
            {"band": i, "hash": h, "day": day, "article_id": m.article_id}
            for i, h in enumerate([*f.near_bands, *f.story_bands])
        ],
    )


def dedupe_batch(
    conn: Connection, batch: Sequence[Features], cfg: DedupeConfig, *, now: datetime
) -> BatchResult:
    """Index, link and assign a batch inside the caller's transaction (takes the lock first)."""
    lock(conn)
    ids = [f.member.article_id for f in batch]
    # Under the lock, the status says what is left: a concurrent worker that got here first has
    # already moved its articles on, in the same transaction as its results.
    pending = set(
        conn.execute(
            sa.select(article.c.id).where(article.c.id.in_(ids), article.c.status == "extracted")
        ).scalars()
    )
    todo = sorted(
        (f for f in batch if f.member.article_id in pending), key=lambda f: f.member.order
    )
    # Articles sent back to ``extracted`` (re-extraction changed their text) leave the index
    # first; the stories they were in are recomputed below without their old links.
    old_stories = _forget(conn, [f.member.article_id for f in todo])
    links: list[Link] = []
    for f in todo:
        found = [link for row in _candidates(conn, f, cfg) if (link := _verify(f, row, cfg))]
        _index(conn, f, cfg, now)
        links.extend(found)
    if links:
        conn.execute(
            sa.insert(dedupe_link),
            [
                {
                    "article_id": link.a,
                    "other_id": link.b,
                    "kind": link.kind,
                    "similarity": link.similarity,
                    "overlap_article": link.overlap_a,
                    "overlap_other": link.overlap_b,
                    "created_at": now,
                }
                for link in links
            ],
        )
    touched = _reassign(
        conn, [f.member.article_id for f in todo], links, cfg, now=now, old_stories=old_stories
    )
    return BatchResult(
        processed=[f.member.article_id for f in todo],
        skipped=len(batch) - len(todo),
        links=len(links),
        stories_touched=touched,
    )


def _forget(conn: Connection, ids: list[str]) -> set[str]:
    """Remove what dedupe stored for ``ids``; return the stories they belonged to."""
    known = list(
        conn.execute(
            sa.select(article_signature.c.article_id).where(article_signature.c.article_id.in_(ids))
        ).scalars()
    )
    if not known:
        return set()
    stories = set(
        conn.execute(
            sa.select(article_dedupe.c.story_id).where(article_dedupe.c.article_id.in_(known))
        ).scalars()
    )
    conn.execute(sa.delete(lsh_band).where(lsh_band.c.article_id.in_(known)))
    conn.execute(
        sa.delete(dedupe_link).where(
            sa.or_(dedupe_link.c.article_id.in_(known), dedupe_link.c.other_id.in_(known))
        )
    )
    conn.execute(sa.delete(article_dedupe).where(article_dedupe.c.article_id.in_(known)))
    conn.execute(sa.delete(article_signature).where(article_signature.c.article_id.in_(known)))
    return stories


def _reassign(
    conn: Connection,
    new_ids: list[str],
    new_links: list[Link],
    cfg: DedupeConfig,
    *,
    now: datetime,
    old_stories: set[str],
) -> int:
    """Recompute every story the batch touched, from all its members and links."""
    if not new_ids:
        return 0
    neighbours = {link.a for link in new_links} | {link.b for link in new_links}
    old_stories = old_stories | set(
        conn.execute(
            sa.select(article_dedupe.c.story_id).where(
                article_dedupe.c.article_id.in_(sorted(neighbours - set(new_ids)))
            )
        ).scalars()
    )
    members_ids = set(new_ids) | set(
        conn.execute(
            sa.select(article_dedupe.c.article_id).where(
                article_dedupe.c.story_id.in_(sorted(old_stories))
            )
        ).scalars()
    )
    ordered = sorted(members_ids)
    members = {
        row.article_id: _member(row)
        for row in conn.execute(
            sa.select(article_signature).where(article_signature.c.article_id.in_(ordered))
        )
    }
    links = [
        Link(r.article_id, r.other_id, r.kind, r.similarity, r.overlap_article, r.overlap_other)
        for r in conn.execute(
            sa.select(dedupe_link).where(
                sa.or_(dedupe_link.c.article_id.in_(ordered), dedupe_link.c.other_id.in_(ordered))
            )
        )
    ]
    th = cfg.thresholds
    story_rows, assignments = [], []
    for group in components(ordered, links):
        row, assigned = assign_story([members[i] for i in group], links, th)
        story_rows.append(row)
        assignments.extend(assigned)
    new_story_ids = {r.id for r in story_rows}
    stale = sorted(old_stories - new_story_ids)
    if stale:
        conn.execute(sa.delete(story).where(story.c.id.in_(stale)))
    upsert(
        conn,
        story,
        [
            {
                "id": r.id,
                "first_article_id": r.first_article_id,
                "first_seen_at": r.first_seen_at,
                "first_source_id": r.first_source_id,
                "article_count": r.article_count,
                "outlet_count": r.outlet_count,
                "last_seen_at": r.last_seen_at,
                "updated_at": now,
            }
            for r in story_rows
        ],
        key=["id"],
        update=[
            "first_article_id",
            "first_seen_at",
            "first_source_id",
            "article_count",
            "outlet_count",
            "last_seen_at",
            "updated_at",
        ],
    )
    cols = [
        "story_id",
        "duplicate_of",
        "duplicate_kind",
        "label",
        "copied_from",
        "overlap",
        "similarity",
        "agency",
    ]
    # deduped_at is not in the update list: it records when the article was first deduped.
    upsert(
        conn,
        article_dedupe,
        [
            {
                "article_id": a.article_id,
                "story_id": a.story_id,
                "duplicate_of": a.duplicate_of,
                "duplicate_kind": a.duplicate_kind,
                "label": a.label,
                "copied_from": a.copied_from,
                "overlap": a.overlap,
                "similarity": a.similarity,
                "agency": a.agency,
                "deduped_at": now,
            }
            for a in assignments
        ],
        key=["article_id"],
        update=cols,
    )
    return len(story_rows)


def prune_bands(conn: Connection, *, cutoff: datetime) -> int:
    """Delete the LSH bands of articles first seen before ``cutoff`` (retention window)."""
    old = sa.select(article_signature.c.article_id).where(article_signature.c.seen_at < cutoff)
    result = conn.execute(sa.delete(lsh_band).where(lsh_band.c.article_id.in_(old)))
    return result.rowcount or 0
