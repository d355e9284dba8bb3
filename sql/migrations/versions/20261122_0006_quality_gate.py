"""Data-quality runs, results and quarantine (issue 7).

Revision ID: 20261122_0006
Revises: 20261122_0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261122_0006"
down_revision = "20261122_0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dq_run",
        sa.Column("id", sa.Integer),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("suite", sa.String(40), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("rows_evaluated", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("docs_path", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_dq_run"),
    )
    op.create_index("ix_dq_run_run_id", "dq_run", ["run_id"])
    op.create_table(
        "dq_result",
        sa.Column("id", sa.Integer),
        sa.Column("dq_run_id", sa.Integer, nullable=False),
        sa.Column("expectation", sa.String(80), nullable=False),
        sa.Column("expectation_type", sa.String(100), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("element_count", sa.Integer),
        sa.Column("unexpected_count", sa.Integer),
        sa.Column("observed_value", sa.Text),
        sa.Column("sample", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dq_result"),
        sa.ForeignKeyConstraint(["dq_run_id"], ["dq_run.id"], name="fk_dq_result_dq_run_id_dq_run"),
    )
    op.create_index("ix_dq_result_dq_run_id", "dq_result", ["dq_run_id"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(64)),
        sa.Column("expectation", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("observed_value", sa.Text),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("dq_run_id", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("released_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.ForeignKeyConstraint(
            ["dq_run_id"], ["dq_run.id"], name="fk_quarantine_dq_run_id_dq_run"
        ),
    )
    op.create_index("ix_quarantine_article_id", "quarantine", ["article_id"])
    op.create_index("ix_quarantine_entity_entity_id", "quarantine", ["entity", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_entity_entity_id", table_name="quarantine")
    op.drop_index("ix_quarantine_article_id", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_dq_result_dq_run_id", table_name="dq_result")
    op.drop_table("dq_result")
    op.drop_index("ix_dq_run_run_id", table_name="dq_run")
    op.drop_table("dq_run")
