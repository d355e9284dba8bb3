"""Tables owned by dedupe (issue 5): signatures, the LSH band index, links, stories, assignments.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema. Nothing
here adds columns to ``article``: every per-article result is keyed by ``article_id``.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.warehouse.schema import TS, metadata, one_of

DUPLICATE_KINDS = ("exact", "title", "near")
LINK_KINDS = ("exact", "title", "near", "story")
LABELS = ("original", "wire_copy", "rewrite", "independent")

# One row per deduped article: the features every later comparison needs (never the text).
article_signature = sa.Table(
    "article_signature",
    metadata,
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), primary_key=True),
    # Surrogate key the band index refers to: 8 bytes instead of the 64-character article id in
    # every one of the ~127 band rows per article, which keeps the band index about 2.5x smaller
    # (see lsh_band). Assigned under the dedupe lock as max + 1, in processing order.
    sa.Column("band_key", sa.BigInteger, nullable=False, unique=True),
    sa.Column("source_id", sa.Integer, nullable=False),
    # published_at, or discovered_at when the page had no usable date: the time stories use.
    sa.Column("seen_at", TS, nullable=False, index=True),
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    sa.Column("title_hash", sa.String(64)),
    sa.Column("shingle_count", sa.Integer, nullable=False),
    # MinHash values, little-endian uint32 each (num_perm * 4 bytes).
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("agency", sa.String(100)),
    sa.Column("created_at", TS, nullable=False),
)
sa.Index(
    "ix_article_signature_source_id_title_hash",
    article_signature.c.source_id,
    article_signature.c.title_hash,
)

# The persistent LSH index: one row per (band of an article, hash of that band's rows). Bands
# 0..dedupe_bands-1 are the near-duplicate index, searched over the retention window; the next
# dedupe_story_bands are the looser story index, searched only within the story window through
# ``day`` (days since 1970-01-01 of seen_at) and pruned after dedupe_story_band_days.
# ``key`` is the band hash with the band number folded in (``pipeline.dedupe.index.band_key``),
# so one bigint column identifies (band, hash) and the primary key (key, day, article_key) is the
# whole lookup index: lookups are index-only scans of 20-byte entries.
# On PostgreSQL the table is UNLOGGED (migration 20261130_0009): derived data whose writes skip
# the WAL; crash recovery empties it and the next dedupe run rebuilds it from article_signature
# (pipeline.dedupe.index.restore_bands).
lsh_band = sa.Table(
    "lsh_band",
    metadata,
    sa.Column("key", sa.BigInteger, primary_key=True),
    sa.Column("day", sa.Integer, primary_key=True),
    # article_signature.band_key. No foreign key: this is a derived index written in bulk, pruned
    # by retention, and rebuildable from article_signature; a per-row FK check would only slow it.
    sa.Column("article_key", sa.BigInteger, primary_key=True),
    # Kept (unindexed, free in the row's alignment padding) so story bands can be pruned apart
    # from near bands and the migration can be reversed.
    sa.Column("band", sa.SmallInteger, nullable=False),
)
# Pruning and forgetting a re-extracted article delete through this index, band by band: a story
# prune (band >= dedupe_bands, day < cutoff) then touches only the rows it deletes, never the
# near bands of the same days.
sa.Index(
    "ix_lsh_band_band_day_article_key", lsh_band.c.band, lsh_band.c.day, lsh_band.c.article_key
)

# Verified pairwise links (stored once, article_id < other_id). Stories are their components.
dedupe_link = sa.Table(
    "dedupe_link",
    metadata,
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), primary_key=True),
    sa.Column("other_id", sa.String(64), sa.ForeignKey("article.id"), primary_key=True, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    # Estimated Jaccard similarity of the shingle sets (1.0 for exact hashes).
    sa.Column("similarity", sa.Float, nullable=False),
    # Estimated share of each side's shingles found in the other.
    sa.Column("overlap_article", sa.Float, nullable=False),
    sa.Column("overlap_other", sa.Float, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    one_of("kind", LINK_KINDS),
)

story = sa.Table(
    "story",
    metadata,
    # The id of the story's first article (earliest seen_at, then id): a function of its members.
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("first_article_id", sa.String(64), sa.ForeignKey("article.id"), nullable=False),
    sa.Column("first_seen_at", TS, nullable=False),
    sa.Column("first_source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False),
    sa.Column("article_count", sa.Integer, nullable=False),
    sa.Column("outlet_count", sa.Integer, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# The Media Monitor's Stories tab: newest and biggest first (issue 18).
sa.Index("ix_story_first_seen_at", story.c.first_seen_at)
sa.Index("ix_story_article_count", story.c.article_count)

article_dedupe = sa.Table(
    "article_dedupe",
    metadata,
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), primary_key=True),
    # Deferred to commit: re-clustering deletes a batch's stale stories before it re-points their
    # members (pipeline.dedupe.index._reassign), all in one transaction.
    sa.Column(
        "story_id",
        sa.String(64),
        sa.ForeignKey("story.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
        index=True,
    ),
    sa.Column("duplicate_of", sa.String(64), sa.ForeignKey("article.id"), index=True),
    sa.Column("duplicate_kind", sa.String(10)),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("copied_from", sa.String(64), sa.ForeignKey("article.id"), index=True),
    # Share of this article's shingles found in copied_from (estimated).
    sa.Column("overlap", sa.Float),
    # Estimated Jaccard similarity with duplicate_of, else with copied_from.
    sa.Column("similarity", sa.Float),
    sa.Column("agency", sa.String(100)),
    sa.Column("deduped_at", TS, nullable=False),
    one_of("duplicate_kind", DUPLICATE_KINDS),
    one_of("label", LABELS),
)

__all__ = [
    "DUPLICATE_KINDS",
    "LABELS",
    "LINK_KINDS",
    "article_dedupe",
    "article_signature",
    "dedupe_link",
    "lsh_band",
    "metadata",
    "story",
]
