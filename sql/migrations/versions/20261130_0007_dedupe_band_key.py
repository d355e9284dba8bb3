"""Compact LSH band index: bigint article key and band number folded into the hash (issue 5).

``article_signature`` gets a surrogate ``band_key`` (bigint, unique) and ``lsh_band`` is rebuilt
as (key, day, article_key, band) with primary key (key, day, article_key), where
``key = hash XOR (band << 56)``: the same lookups on index entries of 20 bytes instead of ~80
(a 64-character article id in each of an article's ~127 band rows). Existing rows are carried
over in SQL (XOR is written as ``(a | b) & ~(a & b)``, which both SQLite and PostgreSQL have), and
the downgrade restores the old table from the new one, so both directions keep the index.

Revision ID: 20261130_0007
Revises: 20261122_0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261130_0007"
down_revision = "20261122_0006"
branch_labels = None
depends_on = None

# Must equal pipeline.dedupe.index.BAND_SHIFT (a migration never imports pipeline code).
BAND_SHIFT = 56


def _xor(a: str, b: str) -> str:
    return f"(({a}) | ({b})) & ~(({a}) & ({b}))"


def upgrade() -> None:
    with op.batch_alter_table("article_signature") as batch:
        batch.add_column(sa.Column("band_key", sa.BigInteger))
    # Keys in publication order, as the pipeline would have assigned them.
    op.execute(
        "update article_signature set band_key = (select r.n from (select article_id,"
        " row_number() over (order by seen_at, article_id) as n from article_signature) as r"
        " where r.article_id = article_signature.article_id)"
    )
    with op.batch_alter_table("article_signature") as batch:
        batch.alter_column("band_key", existing_type=sa.BigInteger, nullable=False)
        batch.create_unique_constraint("uq_article_signature_band_key", ["band_key"])

    op.drop_index("ix_lsh_band_article_id", table_name="lsh_band")
    op.rename_table("lsh_band", "lsh_band_0006")
    if op.get_bind().dialect.name == "postgresql":
        # Index names are schema-wide on PostgreSQL: free the primary key's name for the new table.
        op.execute("alter index pk_lsh_band rename to pk_lsh_band_0006")
    op.create_table(
        "lsh_band",
        sa.Column("key", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("article_key", sa.BigInteger, nullable=False),
        sa.Column("band", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", "day", "article_key", name="pk_lsh_band"),
    )
    key = _xor("b.hash", f"cast(b.band as bigint) << {BAND_SHIFT}")
    op.execute(
        f"insert into lsh_band (key, day, article_key, band) select {key}, b.day, s.band_key,"
        " b.band from lsh_band_0006 as b join article_signature as s on s.article_id = b.article_id"
    )
    op.drop_table("lsh_band_0006")
    op.create_index("ix_lsh_band_band_day_article_key", "lsh_band", ["band", "day", "article_key"])


def downgrade() -> None:
    op.drop_index("ix_lsh_band_band_day_article_key", table_name="lsh_band")
    op.rename_table("lsh_band", "lsh_band_0007")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("alter index pk_lsh_band rename to pk_lsh_band_0007")
    op.create_table(
        "lsh_band",
        sa.Column("band", sa.SmallInteger, nullable=False),
        sa.Column("hash", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("band", "hash", "day", "article_id", name="pk_lsh_band"),
    )
    hash_ = _xor("b.key", f"cast(b.band as bigint) << {BAND_SHIFT}")
    op.execute(
        f"insert into lsh_band (band, hash, day, article_id) select b.band, {hash_}, b.day,"
        " s.article_id from lsh_band_0007 as b join article_signature as s"
        " on s.band_key = b.article_key"
    )
    op.drop_table("lsh_band_0007")
    op.create_index("ix_lsh_band_article_id", "lsh_band", ["article_id"])
    with op.batch_alter_table("article_signature") as batch:
        batch.drop_constraint("uq_article_signature_band_key", type_="unique")
        batch.drop_column("band_key")
