"""Fetch retries, raw archive and extraction metadata (issue 4).

Revision ID: 20261122_0003
Revises: 20261122_0002
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "20261122_0003"
down_revision = "20261122_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
