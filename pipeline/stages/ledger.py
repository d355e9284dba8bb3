"""After the gate, ledger: published claims linked across outlets (pipeline.ledger)."""

from __future__ import annotations

from typing import Any

from pipeline.config import get_settings
from pipeline.stages.runs import stage_run
from pipeline.warehouse import get_engine


def link_claims(run_id: str) -> dict[str, Any]:
    """Stage (issue 15): link new numeric claims of published articles into measures, relations
    and clusters; incremental and idempotent (a claim is linked once)."""
    from pipeline.ledger.stage import link_pending

    settings = get_settings()
    engine = get_engine()
    with stage_run(engine, run_id, "ledger") as counts:
        result = link_pending(
            engine, batch_size=settings.ledger_batch_size, window=settings.ledger_window
        )
        counts.update(result.as_dict())
    return counts
