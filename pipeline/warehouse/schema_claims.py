"""Tables owned by the NLP stage (issue 6): entity, article_entity, claim.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema. One
row per claim; an article's claims are replaced as a whole when it is re-analysed.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.warehouse.schema import TS, metadata, one_of

CLAIM_KINDS = ("numeric", "quote", "statement")
# What kind of source gave a claim (pipeline.nlp.speakers sets claim.speaker_kind).
SPEAKER_KINDS = ("person", "organisation", "document", "anonymous")
# What a numeric claim's figure is (pipeline.nlp: Rules.figure_kind, ordinals, changes).
FIGURE_KINDS = ("total", "rate", "share", "change", "ordinal")
# rate_per values (the claim stage's vocabulary, checked by the quality gate).
CLAIM_RATES = ("second", "hour", "day", "week", "month", "year")

# One row per distinct named entity (normalised text + spaCy label) across all articles.
entity = sa.Table(
    "entity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("normalized", sa.String(300), nullable=False),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("normalized", "label"),
)

# Which entities an article mentions, and how often.
article_entity = sa.Table(
    "article_entity",
    metadata,
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), primary_key=True),
    sa.Column("entity_id", sa.Integer, sa.ForeignKey("entity.id"), primary_key=True, index=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# One row per claim. start_offset/end_offset delimit `text` in article.text (not start/end: END is
# reserved in SQL); value_start/value_end the figure, quoted words or reported clause.
claim = sa.Table(
    "claim",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), nullable=False, index=True),
    sa.Column("claim_index", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("start_offset", sa.Integer, nullable=False),
    sa.Column("end_offset", sa.Integer, nullable=False),
    sa.Column("quote", sa.Text),
    sa.Column("cue", sa.String(60)),
    sa.Column("cue_stance", sa.String(20)),
    sa.Column("speaker", sa.Text),
    sa.Column("speaker_role", sa.Text),
    # person / organisation / document / anonymous (issue 16)
    sa.Column("speaker_kind", sa.String(20)),
    sa.Column("speaker_start", sa.Integer),
    sa.Column("speaker_end", sa.Integer),
    sa.Column("value_start", sa.Integer),
    sa.Column("value_end", sa.Integer),
    sa.Column("via", sa.JSON, nullable=False),
    sa.Column("cites", sa.JSON, nullable=False),
    sa.Column("hedges", sa.JSON, nullable=False),
    sa.Column("hedged", sa.Boolean, nullable=False),
    sa.Column("value_low", sa.Float),
    sa.Column("value_high", sa.Float),
    sa.Column("qualifier", sa.String(20)),
    sa.Column("unit", sa.Text),
    sa.Column("rate_per", sa.String(10)),
    sa.Column("period", sa.Text),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    # Comparable fields (issue 15), from the NLP stage: see pipeline.nlp.comparable.
    sa.Column("unit_norm", sa.String(100)),
    sa.Column("unit_class", sa.String(20)),
    sa.Column("currency", sa.String(8)),
    sa.Column("event", sa.String(60)),
    sa.Column("place", sa.String(100)),
    sa.Column("figure_kind", sa.String(10)),
    sa.Column("value_from", sa.Float),
    sa.Column("value_to", sa.Float),
    # Canonical actors (issue 15), set by the ledger stage: who gave the figure, through which
    # outlet or agency, citing what (the first of each list).
    sa.Column("speaker_actor_id", sa.Integer, sa.ForeignKey("actor.id"), index=True),
    sa.Column("via_actor_id", sa.Integer, sa.ForeignKey("actor.id")),
    sa.Column("cites_actor_id", sa.Integer, sa.ForeignKey("actor.id")),
    # The ledger's work queue: false until the ledger has linked the claim. A partial index over
    # the unlinked numeric claims keeps finding them cheap however many are linked.
    sa.Column("linked", sa.Boolean, nullable=False, server_default=sa.false()),
    # Held back by the quality gate (issue 19): a claim that failed a claim expectation stays
    # out of the claim views and the ledger while its article publishes; its open quarantine
    # row says why, and releasing that row clears the flag.
    sa.Column("held", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("extractor_version", sa.String(40), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("article_id", "claim_index"),
    one_of("kind", CLAIM_KINDS),
    one_of("speaker_kind", SPEAKER_KINDS),
    one_of("figure_kind", FIGURE_KINDS),
)
sa.Index("ix_claim_kind_article_id", claim.c.kind, claim.c.article_id)
UNLINKED = sa.and_(claim.c.kind == "numeric", claim.c.linked == sa.false())
sa.Index("ix_claim_unlinked", claim.c.id, postgresql_where=UNLINKED, sqlite_where=UNLINKED)

__all__ = [
    "CLAIM_KINDS",
    "CLAIM_RATES",
    "SPEAKER_KINDS",
    "UNLINKED",
    "article_entity",
    "claim",
    "entity",
    "metadata",
]
