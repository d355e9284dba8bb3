"""Data-quality gate (issue 7): GX suites, the gate, results, quarantine release.

GX is imported lazily by the gate (``pipeline.quality.gate``): importing it costs seconds, and
the CLI and the DAG parser should not pay that to list quarantine rows or parse a DAG.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.logs import quiet_library_loggers
from pipeline.warehouse.schema_quality import dq_result, dq_run, quarantine

# GX logs ~200 INFO records when it is imported ("Skipping registering function ..."): quiet
# it before any module of this package imports it, which is before the gate stage starts.
quiet_library_loggers()


def demo_report(engine: Engine) -> str:
    """The DQ summary for ``make demo``: per suite the expectations passed/failed over all
    validations, then the open quarantine rows by expectation and reason."""
    # The CLI's table renderer, so `make demo` prints one style (lazy: the CLI imports us).
    from pipeline.textfmt import text_table

    with engine.connect() as conn:
        per_suite = conn.execute(
            sa.select(
                dq_run.c.suite,
                sa.func.count(sa.distinct(dq_run.c.id)),
                sa.func.sum(sa.case((dq_result.c.success, 1), else_=0)),
                sa.func.sum(sa.case((dq_result.c.success, 0), else_=1)),
                sa.func.count(sa.distinct(sa.case((dq_run.c.outcome == "rejected", dq_run.c.id)))),
            )
            .join(dq_result, dq_result.c.dq_run_id == dq_run.c.id)
            .group_by(dq_run.c.suite)
            .order_by(dq_run.c.suite)
        ).all()
        held = conn.execute(
            sa.select(quarantine.c.expectation, quarantine.c.reason, sa.func.count())
            .where(quarantine.c.released_at.is_(None))
            .group_by(quarantine.c.expectation, quarantine.c.reason)
            .order_by(sa.func.count().desc(), quarantine.c.expectation)
        ).all()
    if not per_suite:
        return "Data quality: the gate has not run yet."
    out = ["Data quality (all gate runs):"]
    out.append(
        text_table(
            [[s, str(v), str(p), str(f), str(r)] for s, v, p, f, r in per_suite],
            ["suite", "validations", "checks passed", "checks failed", "rejected"],
        )
    )
    if held:
        out.append("\nQuarantined (open), by reason:")
        out.append(
            text_table([[e, r, str(n)] for e, r, n in held], ["expectation", "reason", "rows"])
        )
    else:
        out.append("\nQuarantined (open): none")
    return "\n".join(out)


__all__ = ["demo_report"]
