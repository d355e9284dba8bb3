"""Tables owned by the claim ledger (issue 15): actors, measures, the links of claims to measures,
relations between claims of one measure, and clusters of one figure repeated across outlets.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema. Every
row here is derived from ``claim`` (and article/dedupe rows): re-analysing an article forgets its
claims' ledger rows (:func:`pipeline.ledger.store.forget_claims`) and the next ledger run links
the new claims again.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.warehouse.schema import TS, metadata, one_of

ACTOR_KINDS = ("person", "organisation", "outlet", "anonymous", "document")
RELATIONS = ("agrees", "diverges", "incomparable", "contradicts")
MEMBER_ROLES = ("origin", "repeat", "copy", "attributed", "independent")
FIGURE_GROUPS = ("value", "ordinal")

# One row per canonical speaker, channel or cited source. ``key`` is the normalized name.
actor = sa.Table(
    "actor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.CheckConstraint(f"kind in {ACTOR_KINDS}", name="kind"),
)

# Every normalized way an actor has been written ("maria zakharova", "zakharova").
actor_alias = sa.Table(
    "actor_alias",
    metadata,
    sa.Column("alias", sa.String(300), primary_key=True),
    sa.Column("actor_id", sa.Integer, sa.ForeignKey("actor.id"), primary_key=True, index=True),
)

# One row per thing counted: event x population x unit class (x currency) x place x figure group.
measure = sa.Table(
    "measure",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("label", sa.String(400), nullable=False),
    sa.Column("event", sa.String(60)),
    sa.Column("population", sa.String(100)),
    sa.Column("unit_class", sa.String(20)),
    sa.Column("currency", sa.String(8)),
    sa.Column("place", sa.String(100)),
    # "ordinal" for ordinal facts ("the fifth year of the war"), "value" for every other figure.
    sa.Column("figure_group", sa.String(10), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    one_of("figure_group", FIGURE_GROUPS),
)

# One row per numeric claim the ledger has handled: a claim without a row here is not linked yet
# (that is the ledger's work queue). measure_id is null when the claim names nothing to compare
# (no event and no unit), with the reason.
claim_measure = sa.Table(
    "claim_measure",
    metadata,
    sa.Column("claim_id", sa.Integer, sa.ForeignKey("claim.id"), primary_key=True),
    sa.Column("measure_id", sa.Integer, sa.ForeignKey("measure.id")),
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), nullable=False, index=True),
    sa.Column("source_id", sa.Integer, nullable=False),
    # When the article was first out (the dedupe stage's seen_at): ledger and spread order by it.
    sa.Column("seen_at", TS, nullable=False),
    sa.Column("reason", sa.String(60)),
    # Which words gave the link: the claim's event, population, unit class and place.
    sa.Column("evidence", sa.JSON, nullable=False),
    # The claimed interval after qualifiers ("about" widens by 10%, "more than" is open above).
    sa.Column("low", sa.Float),
    sa.Column("high", sa.Float),
    # The same as a daily rate, when the figure is a rate or a total over a dated period.
    sa.Column("per_day_low", sa.Float),
    sa.Column("per_day_high", sa.Float),
    sa.Column("linked_at", TS, nullable=False),
    # The linking rules that wrote the row (pipeline.ledger.stage.LINKER_VERSION); NULL for rows
    # linked before versions were kept. `mediamon_reprocess` re-links rows of another version.
    sa.Column("linker_version", sa.String(40)),
)
sa.Index("ix_claim_measure_measure_id_seen_at", claim_measure.c.measure_id, claim_measure.c.seen_at)
# The Media Monitor's claim ledger, newest first (issue 18).
sa.Index("ix_claim_measure_seen_at", claim_measure.c.seen_at)

# Pairs of claims of one measure, stored once (claim_a < claim_b).
claim_relation = sa.Table(
    "claim_relation",
    metadata,
    sa.Column("claim_a", sa.Integer, sa.ForeignKey("claim.id"), primary_key=True),
    sa.Column("claim_b", sa.Integer, sa.ForeignKey("claim.id"), primary_key=True, index=True),
    sa.Column("measure_id", sa.Integer, sa.ForeignKey("measure.id"), nullable=False, index=True),
    sa.Column("relation", sa.String(15), nullable=False),
    # Larger over smaller midpoint, when the figures are comparable.
    sa.Column("ratio", sa.Float),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.CheckConstraint(f"relation in {RELATIONS}", name="relation"),
)

# The Media Monitor's Conflicts view, newest first, ties by claim_b (issue 18): the listing's
# whole order, so PostgreSQL reads the page from the index instead of sorting every relation
# that one ledger run wrote with the same timestamp.
sa.Index(
    "ix_claim_relation_created_at_claim_b", claim_relation.c.created_at, claim_relation.c.claim_b
)

# One figure of one measure, repeated by one or more articles.
claim_cluster = sa.Table(
    "claim_cluster",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("measure_id", sa.Integer, sa.ForeignKey("measure.id"), nullable=False),
    # The figure: kind, interval and rate, e.g. "rate|15000|18000|month".
    sa.Column("figure", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("measure_id", "figure"),
)

# Which claims repeat a cluster's figure and how: the origin (first seen), a repeat in the same
# article, a copy (dedupe found the article copied from an earlier member's), an attributed
# rewrite (it cites or goes via the origin's outlet or channel), or an independent report.
claim_cluster_member = sa.Table(
    "claim_cluster_member",
    metadata,
    sa.Column("claim_id", sa.Integer, sa.ForeignKey("claim.id"), primary_key=True),
    sa.Column(
        "cluster_id", sa.Integer, sa.ForeignKey("claim_cluster.id"), nullable=False, index=True
    ),
    sa.Column("role", sa.String(15), nullable=False),
    # The earlier member this one copies or attributes (null for origin and independent).
    sa.Column("source_claim_id", sa.Integer, sa.ForeignKey("claim.id")),
    sa.CheckConstraint(f"role in {MEMBER_ROLES}", name="role"),
)

__all__ = [
    "ACTOR_KINDS",
    "MEMBER_ROLES",
    "RELATIONS",
    "actor",
    "actor_alias",
    "claim_cluster",
    "claim_cluster_member",
    "claim_measure",
    "claim_relation",
    "measure",
]
