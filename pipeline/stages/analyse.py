"""Stage 5, analyse: claims and entities of deduped articles (pipeline.nlp)."""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from typing import Any

from pipeline.config import get_settings
from pipeline.stages.runs import (
    pooled_batches,
    stage_run,
)
from pipeline.warehouse import get_engine


def analyse_articles(run_id: str, *, worker: int | None = None) -> dict[str, Any]:
    """Stage (issue 6): deduped -> analysed, with entities and claims, one transaction per batch.

    Batches are taken under the same lease rule as fetch and extract (concurrent runs and the
    DAG's mapped workers never analyse the same article), analysed by ``processes`` worker
    processes (each loads spaCy once) and written here in the order they were taken. Re-analysing
    an article replaces its claim and entity rows, so retries are safe. ``worker``: as in
    :func:`pipeline.stages.extract.extract_articles`.
    """
    from pipeline.nlp.stage import (  # spaCy loads only when this stage runs
        AnalyseCompute,
        analysis_rows,
        write_analyses,
    )

    settings = get_settings()
    engine = get_engine()
    with stage_run(engine, run_id, "analyse", worker=worker) as counts:
        total: Counter[str] = Counter()
        batches = pooled_batches(
            engine, "analyse", "deduped", settings, worker, counts, analysis_rows, AnalyseCompute
        )
        with closing(batches):
            for lease, rows, results in batches:
                total.update(write_analyses(engine, rows, results, lease=lease.until))
        counts.update(
            {
                "analysed": total["articles"],
                **{k: v for k, v in sorted(total.items()) if k != "articles"},
            }
        )
    return counts
