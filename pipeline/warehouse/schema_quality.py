"""Tables owned by the quality gate (issue 7): dq_run, dq_result, quarantine.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema.
"""

from __future__ import annotations

from pipeline.warehouse.schema import metadata

__all__ = ["metadata"]
