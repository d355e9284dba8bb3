"""Tables owned by feed polling (issue 3): per-host politeness, ...

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema.
"""

from __future__ import annotations

from pipeline.warehouse.schema import metadata

__all__ = ["metadata"]
