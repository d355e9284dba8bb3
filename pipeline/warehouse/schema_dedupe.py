"""Tables owned by dedupe (issue 5).

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema.
"""

from __future__ import annotations

from pipeline.warehouse.schema import metadata

__all__ = ["metadata"]
