"""Tables owned by the NLP stage (issue 6): entity, article_entity, claim.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema.
"""

from __future__ import annotations

from pipeline.warehouse.schema import metadata

__all__ = ["metadata"]
