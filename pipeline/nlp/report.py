"""The claim ledger as ``make demo`` prints it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.nlp.store import claim_ledger
from pipeline.textfmt import text_table
from pipeline.warehouse.schema_claims import claim

_QUALIFIER_SIGNS = {
    "approximately": "~",
    "more_than": ">",
    "less_than": "<",
    "at_least": ">=",
    "up_to": "<=",
    "exact": "",
    "range": "",
}


def format_figure(row: dict[str, Any]) -> str:
    """ "~21,600", "300,000-500,000", "<40" (compact figure with its qualifier)."""

    def num(v: float) -> str:
        for scale, suffix in ((1e12, "tn"), (1e9, "bn"), (1e6, "m")):
            if abs(v) >= scale:
                return f"{v / scale:.3g}{suffix}"
        return f"{v:,.0f}" if v == int(v) and abs(v) >= 1 else f"{v:,.2f}".rstrip("0").rstrip(".")

    lo, hi = row["value_low"], row["value_high"]
    text = num(lo) if lo == hi else f"{num(lo)}-{num(hi)}"
    return _QUALIFIER_SIGNS.get(row["qualifier"] or "", "") + text


def _cut(text: Any, width: int) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= width else s[: width - 1] + "…"


def demo_report(engine: Engine, *, limit: int = 40) -> str:
    """Claim counts by kind, then the ledger: speaker, figure, unit, period, via, hedged."""
    with engine.connect() as conn:
        counted = sa.select(claim.c.kind, sa.func.count()).group_by(claim.c.kind)
        kinds: dict[str, int] = {k: n for k, n in conn.execute(counted).tuples()}
    rows = claim_ledger(engine, limit=limit)
    header = ["speaker", "figure", "unit", "per", "period", "via", "hedged"]
    table = [
        [
            _cut(r["speaker"] or "-", 28),
            format_figure(r),
            _cut(r["unit"] or "-", 22),
            r["rate_per"] or "",
            _cut(r["period"] or "", 26),
            _cut(", ".join(r["via"] or []), 20),
            "yes" if r["hedged"] else "",
        ]
        for r in rows
    ]
    counts = ", ".join(f"{k} {kinds.get(k, 0)}" for k in ("numeric", "quote", "statement"))
    return f"claims: {counts}\n" + text_table(table, header)
