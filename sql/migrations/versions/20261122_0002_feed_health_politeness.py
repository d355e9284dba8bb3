"""Feed health, adaptive scheduling and shared per-host politeness (issue 3).

Revision ID: 20261122_0002
Revises: 20261122_0001
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "20261122_0002"
down_revision = "20261122_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
