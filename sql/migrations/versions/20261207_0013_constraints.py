"""A warehouse that keeps its rules (issue 20): CHECK constraints on every status and kind
column, the missing foreign keys, indexes for the analysts' filters, article.paywall_suspected.

The value lists are frozen here as they were at this revision; the SQLAlchemy metadata builds
its constraints from the code's constants (pipeline/warehouse/schema*.py), and the warehouse
tests compare the two, so a new value means a new revision.

Existing rows that break a new rule are not changed: the upgrade refuses before altering
anything and names each rule, how many rows break it and what they hold, so the operator
decides what to fix (a migration that deleted or rewrote rows would lose them silently).

On SQLite each constrained table is rebuilt (batch mode); pipeline.warehouse.migrate turns
foreign key enforcement off around the migration and checks every key before it commits.

Revision ID: 20261207_0013
Revises: 20261207_0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_0013"
down_revision = "20261207_0012"
branch_labels = None
depends_on = None

# (table, column) -> allowed values, as the code had them at this revision.
CHECKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("feed", "status"): (
        "new",
        "ok",
        "not_modified",
        "http_error",
        "parse_error",
        "timeout",
        "blocked",
        "disabled",
    ),
    ("feed_poll", "status"): (
        "ok",
        "not_modified",
        "http_error",
        "parse_error",
        "blocked",
        "timeout",
        "disabled",
        "deferred",
    ),
    ("article", "status"): (
        "discovered",
        "fetched",
        "extracted",
        "deduped",
        "analysed",
        "published",
        "fetch_failed",
        "extract_failed",
        "quarantined",
    ),
    ("pipeline_run", "status"): ("running", "success", "failed", "abandoned"),
    ("dedupe_link", "kind"): ("exact", "title", "near", "story"),
    ("article_dedupe", "duplicate_kind"): ("exact", "title", "near"),
    ("article_dedupe", "label"): ("original", "wire_copy", "rewrite", "independent"),
    ("claim", "kind"): ("numeric", "quote", "statement"),
    ("claim", "speaker_kind"): ("person", "organisation", "document", "anonymous"),
    ("claim", "figure_kind"): ("total", "rate", "share", "change", "ordinal"),
    ("measure", "figure_group"): ("value", "ordinal"),
    ("dq_run", "outcome"): ("passed", "quarantined", "rejected"),
    ("dq_result", "level"): ("row", "batch"),
    ("quarantine", "entity"): ("article", "claim", "feed_poll"),
}
# Revision 20261206_0010 named these ck_actor_kind and so on, and Alembic put the names through
# the metadata's naming convention a second time (ck_actor_ck_actor_kind): renamed as the
# metadata names them, so every CHECK of the warehouse is ck_<table>_<column>.
DOUBLED = {
    ("actor", "kind"): ("person", "organisation", "outlet", "anonymous", "document"),
    ("claim_relation", "relation"): ("agrees", "diverges", "incomparable", "contradicts"),
    ("claim_cluster_member", "role"): ("origin", "repeat", "copy", "attributed", "independent"),
}
# (table, column, referred table, deferred): deferred to commit where a stage re-points rows
# before their old parent goes (dedupe re-clustering deletes stale stories first).
FOREIGN_KEYS = (
    ("article_dedupe", "story_id", "story", True),
    ("article_dedupe", "duplicate_of", "article", False),
    ("article_dedupe", "copied_from", "article", False),
    ("quarantine", "article_id", "article", False),
    ("story", "first_source_id", "source", False),
)
# Filters of the analyst views and README queries, and the new foreign keys' child columns.
INDEXES = (
    ("ix_article_source_id_published_at", "article", ("source_id", "published_at")),
    ("ix_article_language", "article", ("language",)),
    ("ix_article_dedupe_duplicate_of", "article_dedupe", ("duplicate_of",)),
    ("ix_article_dedupe_copied_from", "article_dedupe", ("copied_from",)),
    # The Media Monitor's default orders and lookups (issue 18): a page reads an index range,
    # not the whole table.
    ("ix_article_discovered_at", "article", ("discovered_at",)),
    ("ix_feed_poll_feed_id_id", "feed_poll", ("feed_id", "id")),
    ("ix_story_first_seen_at", "story", ("first_seen_at",)),
    ("ix_story_article_count", "story", ("article_count",)),
    ("ix_claim_measure_seen_at", "claim_measure", ("seen_at",)),
    ("ix_claim_relation_created_at", "claim_relation", ("created_at",)),
)
# Tables in the order they are rebuilt (parents before children does not matter with
# enforcement off; this is just the schema's order).
TABLES = (
    "feed",
    "feed_poll",
    "article",
    "pipeline_run",
    "dedupe_link",
    "story",
    "article_dedupe",
    "claim",
    "measure",
    "dq_run",
    "dq_result",
    "quarantine",
)
UNLINKED = "kind = 'numeric' and linked = false"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _rename_doubled(*, undo: bool = False) -> None:
    """ck_<t>_ck_<t>_<c> -> ck_<t>_<c> (or back, with ``undo``)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for (table, column), values in DOUBLED.items():
        old, new = f"ck_{table}_ck_{table}_{column}", f"ck_{table}_{column}"
        if undo:
            old, new = new, old
        if postgres:
            op.execute(f"alter table {table} rename constraint {old} to {new}")
            continue
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(old), type_="check")
            batch.create_check_constraint(op.f(new), f"{column} in ({_quoted(values)})")


def _violations() -> list[str]:
    """Every existing row that a new rule would refuse, one line per rule."""
    bind = op.get_bind()
    problems = []
    for (table, column), values in CHECKS.items():
        bad = bind.execute(
            sa.text(
                f"select {column} as value, count(*) as n from {table} where {column} is not null"
                f" and {column} not in ({_quoted(values)}) group by {column} order by {column}"
            )
        ).all()
        if bad:
            found = ", ".join(f"{r.value!r} ({r.n} rows)" for r in bad[:5])
            problems.append(f"{table}.{column} must be one of {values}; found {found}")
    for table, column, parent, _ in FOREIGN_KEYS:
        n = bind.execute(
            sa.text(
                f"select count(*) from {table} as c where c.{column} is not null and not exists"
                f" (select 1 from {parent} as p where p.id = c.{column})"
            )
        ).scalar_one()
        if n:
            problems.append(f"{table}.{column}: {n} rows name a {parent} id that does not exist")
    return problems


def upgrade() -> None:
    problems = _violations()
    if problems:
        # One line: the command line shows an error's first line only.
        raise RuntimeError(
            "cannot add the warehouse's constraints (revision 20261207_0013): "
            + "; ".join(problems)
            + ". Nothing was changed: fix or delete these rows, then run `mediamon db upgrade`"
            " again"
        )
    _rename_doubled()
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # A batch rebuild would carry the partial index over without its WHERE clause.
        op.drop_index("ix_claim_unlinked", table_name="claim")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            if table == "article":
                batch.add_column(
                    sa.Column(
                        "paywall_suspected", sa.Boolean, nullable=False, server_default=sa.false()
                    )
                )
            for (t, column), values in CHECKS.items():
                if t == table:
                    # op.f: the name is final; the metadata's naming convention would prefix
                    # ck_<table>_ a second time.
                    batch.create_check_constraint(
                        op.f(f"ck_{table}_{column}"), f"{column} in ({_quoted(values)})"
                    )
            for t, column, parent, deferred in FOREIGN_KEYS:
                if t == table:
                    batch.create_foreign_key(
                        f"fk_{table}_{column}_{parent}",
                        parent,
                        [column],
                        ["id"],
                        **({"deferrable": True, "initially": "DEFERRED"} if deferred else {}),
                    )
    if sqlite:
        op.create_index("ix_claim_unlinked", "claim", ["id"], sqlite_where=sa.text(UNLINKED))
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("ix_claim_unlinked", table_name="claim")
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            for t, column, parent, _ in FOREIGN_KEYS:
                if t == table:
                    batch.drop_constraint(f"fk_{table}_{column}_{parent}", type_="foreignkey")
            for t, column in CHECKS:
                if t == table:
                    batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
            if table == "article":
                batch.drop_column("paywall_suspected")
    if sqlite:
        op.create_index("ix_claim_unlinked", "claim", ["id"], sqlite_where=sa.text(UNLINKED))
    _rename_doubled(undo=True)
