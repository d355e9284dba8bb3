"""Stage 4, dedupe: near-duplicates and story clusters (pipeline.dedupe)."""

from __future__ import annotations

from typing import Any

from pipeline.config import get_settings
from pipeline.stages.runs import stage_run
from pipeline.warehouse import get_engine


def dedupe_articles(run_id: str) -> dict[str, Any]:
    """Stage (issue 5): extracted -> deduped, with stories and provenance, batch by batch.

    Safe to run in several workers at once: each batch takes the dedupe lock in its transaction.
    """
    from pipeline.dedupe import DedupeConfig, run_dedupe

    settings = get_settings()
    engine = get_engine()
    with stage_run(engine, run_id, "dedupe") as counts:
        result = run_dedupe(
            engine, DedupeConfig.from_settings(settings), batch_size=settings.batch_size
        )
        counts.update(result.as_dict())
    return counts
