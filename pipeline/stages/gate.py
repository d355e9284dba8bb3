"""Stage 6, gate: Great Expectations checks; publish or quarantine (pipeline.quality)."""

from __future__ import annotations

from typing import Any

from pipeline.config import get_settings
from pipeline.stages.runs import stage_run
from pipeline.warehouse import get_engine


def gate_articles(run_id: str) -> dict[str, Any]:
    """Stage: the quality gate (issue 7): analysed -> published or quarantined, batch by batch.

    Raises ``pipeline.quality.gate.BatchRejectedError`` when a batch-level expectation fails
    (nothing from the batch is published); the task should fail on it, not retry it away.
    """
    from pipeline.quality.gate import run_gate  # GX import costs seconds; only when gating

    settings = get_settings()
    engine = get_engine()
    with stage_run(engine, run_id, "gate") as counts:
        counts.update(run_gate(engine, run_id, settings).as_dict())
    return counts
