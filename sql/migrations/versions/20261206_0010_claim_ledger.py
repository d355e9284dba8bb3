"""Claim ledger (issue 15): comparable claim fields, actors, measures, relations, clusters.

Revision ID: 20261206_0010
Revises: 20261130_0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_0010"
down_revision = "20261130_0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ACTOR_KINDS = ("person", "organisation", "outlet", "anonymous", "document")
RELATIONS = ("agrees", "diverges", "incomparable", "contradicts")
MEMBER_ROLES = ("origin", "repeat", "copy", "attributed", "independent")
CLAIM_COLUMNS = (
    ("unit_norm", sa.String(100)),
    ("unit_class", sa.String(20)),
    ("currency", sa.String(8)),
    ("event", sa.String(60)),
    ("place", sa.String(100)),
    ("figure_kind", sa.String(10)),
    ("value_from", sa.Float()),
    ("value_to", sa.Float()),
)
ACTOR_COLUMNS = ("speaker_actor_id", "via_actor_id", "cites_actor_id")


def upgrade() -> None:
    op.create_table(
        "actor",
        sa.Column("id", sa.Integer),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actor"),
        sa.UniqueConstraint("key", name="uq_actor_key"),
        sa.CheckConstraint(f"kind in {ACTOR_KINDS}", name="ck_actor_kind"),
    )
    op.create_table(
        "actor_alias",
        sa.Column("alias", sa.String(300), nullable=False),
        sa.Column("actor_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("alias", "actor_id", name="pk_actor_alias"),
        sa.ForeignKeyConstraint(["actor_id"], ["actor.id"], name="fk_actor_alias_actor_id_actor"),
    )
    op.create_index("ix_actor_alias_actor_id", "actor_alias", ["actor_id"])
    op.create_table(
        "measure",
        sa.Column("id", sa.Integer),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("label", sa.String(400), nullable=False),
        sa.Column("event", sa.String(60)),
        sa.Column("population", sa.String(100)),
        sa.Column("unit_class", sa.String(20)),
        sa.Column("currency", sa.String(8)),
        sa.Column("place", sa.String(100)),
        sa.Column("figure_group", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_measure"),
        sa.UniqueConstraint("key", name="uq_measure_key"),
    )
    with op.batch_alter_table("claim") as batch:
        for name, type_ in CLAIM_COLUMNS:
            batch.add_column(sa.Column(name, type_))
        for name in ACTOR_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer))
            batch.create_foreign_key(f"fk_claim_{name}_actor", "actor", [name], ["id"])
        batch.add_column(
            sa.Column("linked", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "claim_measure",
        sa.Column("claim_id", sa.Integer, nullable=False),
        sa.Column("measure_id", sa.Integer),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("reason", sa.String(60)),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("low", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("per_day_low", sa.Float),
        sa.Column("per_day_high", sa.Float),
        sa.Column("linked_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claim_measure"),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name="fk_claim_measure_claim_id_claim"),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name="fk_claim_measure_measure_id_measure"
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_claim_measure_article_id_article"
        ),
    )
    op.create_index("ix_claim_measure_article_id", "claim_measure", ["article_id"])
    op.create_index(
        "ix_claim_measure_measure_id_seen_at", "claim_measure", ["measure_id", "seen_at"]
    )
    op.create_table(
        "claim_relation",
        sa.Column("claim_a", sa.Integer, nullable=False),
        sa.Column("claim_b", sa.Integer, nullable=False),
        sa.Column("measure_id", sa.Integer, nullable=False),
        sa.Column("relation", sa.String(15), nullable=False),
        sa.Column("ratio", sa.Float),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("claim_a", "claim_b", name="pk_claim_relation"),
        sa.ForeignKeyConstraint(["claim_a"], ["claim.id"], name="fk_claim_relation_claim_a_claim"),
        sa.ForeignKeyConstraint(["claim_b"], ["claim.id"], name="fk_claim_relation_claim_b_claim"),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name="fk_claim_relation_measure_id_measure"
        ),
        sa.CheckConstraint(f"relation in {RELATIONS}", name="ck_claim_relation_relation"),
    )
    op.create_index("ix_claim_relation_claim_b", "claim_relation", ["claim_b"])
    op.create_index("ix_claim_relation_measure_id", "claim_relation", ["measure_id"])
    op.create_table(
        "claim_cluster",
        sa.Column("id", sa.Integer),
        sa.Column("measure_id", sa.Integer, nullable=False),
        sa.Column("figure", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_claim_cluster"),
        sa.UniqueConstraint("measure_id", "figure", name="uq_claim_cluster_measure_id_figure"),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name="fk_claim_cluster_measure_id_measure"
        ),
    )
    op.create_table(
        "claim_cluster_member",
        sa.Column("claim_id", sa.Integer, nullable=False),
        sa.Column("cluster_id", sa.Integer, nullable=False),
        sa.Column("role", sa.String(15), nullable=False),
        sa.Column("source_claim_id", sa.Integer),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claim_cluster_member"),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name="fk_claim_cluster_member_claim_id_claim"
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["claim_cluster.id"],
            name="fk_claim_cluster_member_cluster_id_claim_cluster",
        ),
        sa.ForeignKeyConstraint(
            ["source_claim_id"], ["claim.id"], name="fk_claim_cluster_member_source_claim_id_claim"
        ),
        sa.CheckConstraint(f"role in {MEMBER_ROLES}", name="ck_claim_cluster_member_role"),
    )
    op.create_index(
        "ix_claim_cluster_member_cluster_id", "claim_cluster_member", ["cluster_id"]
    )
    # The claim views filter by kind, speaker and publication date.
    op.create_index("ix_claim_kind_article_id", "claim", ["kind", "article_id"])
    op.create_index("ix_claim_speaker_actor_id", "claim", ["speaker_actor_id"])
    op.create_index("ix_article_published_at", "article", ["published_at"])
    # The ledger's queue: only unlinked numeric claims are in this index.
    unlinked = sa.text("kind = 'numeric' and linked = false")
    op.create_index(
        "ix_claim_unlinked",
        "claim",
        ["id"],
        postgresql_where=unlinked,
        sqlite_where=unlinked,
    )


def downgrade() -> None:
    op.drop_index("ix_claim_unlinked", table_name="claim")
    op.drop_index("ix_article_published_at", table_name="article")
    op.drop_index("ix_claim_speaker_actor_id", table_name="claim")
    op.drop_index("ix_claim_kind_article_id", table_name="claim")
    op.drop_table("claim_cluster_member")
    op.drop_table("claim_cluster")
    op.drop_table("claim_relation")
    op.drop_table("claim_measure")
    with op.batch_alter_table("claim") as batch:
        for name in ACTOR_COLUMNS:
            batch.drop_constraint(f"fk_claim_{name}_actor", type_="foreignkey")
            batch.drop_column(name)
        for name, _ in CLAIM_COLUMNS:
            batch.drop_column(name)
        batch.drop_column("linked")
    op.drop_table("measure")
    op.drop_table("actor_alias")
    op.drop_table("actor")
