"""Tables owned by the quality gate (issue 7): dq_run, dq_result, quarantine.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema.

- ``dq_run``: one row per suite validated on one batch (or one pre-flight check) of a gate run.
- ``dq_result``: one row per expectation of a ``dq_run``, with its counts and a sample.
- ``quarantine``: one row per (entity row, failed expectation). A row is open until released;
  ``article_id`` names the article the row is about: for an article row, the article it holds
  back; for a claim row, the claim's article (which publishes; the claim itself is held, claim.held)
  (null for feed polls).
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.warehouse.schema import TS, metadata, one_of

# What a dq_run concluded: every expectation passed, some rows were quarantined, or the batch was
# rejected as a whole (nothing published).
DQ_OUTCOMES = ("passed", "quarantined", "rejected")
# An expectation is about rows (quarantine them) or about the whole batch (reject it).
DQ_LEVELS = ("row", "batch")
QUARANTINE_ENTITIES = ("article", "claim", "feed_poll")

dq_run = sa.Table(
    "dq_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(250), nullable=False, index=True),
    sa.Column("suite", sa.String(40), nullable=False),
    sa.Column("batch_no", sa.Integer, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("rows_evaluated", sa.Integer, nullable=False),
    sa.Column("rows_quarantined", sa.Integer, nullable=False),
    sa.Column("docs_path", sa.Text),
    one_of("outcome", DQ_OUTCOMES),
)

dq_result = sa.Table(
    "dq_result",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dq_run_id", sa.Integer, sa.ForeignKey("dq_run.id"), nullable=False, index=True),
    sa.Column("expectation", sa.String(80), nullable=False),
    sa.Column("expectation_type", sa.String(100), nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("element_count", sa.Integer),
    sa.Column("unexpected_count", sa.Integer),
    sa.Column("observed_value", sa.Text),
    sa.Column("sample", sa.JSON, nullable=False),
    one_of("level", DQ_LEVELS),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(20), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("article_id", sa.String(64), sa.ForeignKey("article.id"), index=True),
    sa.Column("expectation", sa.String(80), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("observed_value", sa.Text),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("dq_run_id", sa.Integer, sa.ForeignKey("dq_run.id")),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("released_at", TS),
    one_of("entity", QUARANTINE_ENTITIES),
)

sa.Index("ix_quarantine_entity_entity_id", quarantine.c.entity, quarantine.c.entity_id)

__all__ = ["DQ_OUTCOMES", "QUARANTINE_ENTITIES", "dq_result", "dq_run", "metadata", "quarantine"]
