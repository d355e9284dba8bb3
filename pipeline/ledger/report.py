"""Reading the ledger back from the analyst views, for ``mediamon ledger`` and the demo."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.textfmt import text_table


def _filters(
    measure: str | None, since: date | None, *, column: str, measure_id: int | None = None
) -> tuple[str, dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if measure_id is not None:
        where.append("measure_id = :measure_id")
        params["measure_id"] = measure_id
    if measure:
        where.append("lower(measure) like :measure")
        params["measure"] = f"%{measure.lower()}%"
    if since:
        where.append(f"{column} >= :since")
        params["since"] = datetime.combine(since, datetime.min.time())
    return (" where " + " and ".join(where)) if where else "", params


def ledger_rows(
    conn: Connection,
    *,
    measure: str | None = None,
    since: date | None = None,
    measure_id: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """v_claim_ledger rows: every figure of each measure, by outlet and speaker, oldest first."""
    where, params = _filters(measure, since, column="seen_at", measure_id=measure_id)
    sql = (
        "select measure_id, measure, seen_at, outlet, speaker, via, cites, value_low, "
        "value_high, qualifier, figure_kind, rate_per, period, period_start, period_end, hedged, "
        f"role, claim_id, url from v_claim_ledger{where} "
        "order by measure_id, seen_at, claim_id limit :limit"
    )
    return [dict(r) for r in conn.execute(sa.text(sql), params | {"limit": limit}).mappings()]


def conflict_rows(
    conn: Connection,
    *,
    measure: str | None = None,
    since: date | None = None,
    measure_id: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """v_claim_conflicts rows: diverging or contradicting pairs, biggest ratio first."""
    where, params = _filters(measure, since, column="b_seen_at", measure_id=measure_id)
    sql = (
        "select measure_id, measure, relation, ratio, reason, a_outlet, a_speaker, a_via, "
        "a_value_low, a_value_high, a_rate_per, a_period, b_outlet, b_speaker, b_via, "
        "b_value_low, b_value_high, b_rate_per, b_period, a_claim_id, b_claim_id "
        f"from v_claim_conflicts{where} "
        "order by measure_id, relation, ratio desc, a_claim_id, b_claim_id limit :limit"
    )
    return [dict(r) for r in conn.execute(sa.text(sql), params | {"limit": limit}).mappings()]


def spread_rows(
    conn: Connection,
    *,
    measure: str | None = None,
    since: date | None = None,
    measure_id: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """v_claim_spread rows: each figure's first outlet and how it spread, widest first."""
    where, params = _filters(measure, since, column="first_seen_at", measure_id=measure_id)
    sql = (
        "select cluster_id, measure, figure, first_outlet, first_seen_at, first_speaker, "
        "first_via, claims, articles, outlets, copies, attributed, independent "
        f"from v_claim_spread{where} order by outlets desc, claims desc, cluster_id limit :limit"
    )
    return [dict(r) for r in conn.execute(sa.text(sql), params | {"limit": limit}).mappings()]


def figure_text(low: float | None, high: float | None, rate: str | None = None) -> str:
    """ "15,000-18,000 / month", "21,600"."""
    if low is None:
        return "-"
    fig = f"{low:,.10g}" if high in (None, low) else f"{low:,.10g}-{high:,.10g}"
    return f"{fig} / {rate}" if rate else fig


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value or "")[:16]


def format_ledger(rows: list[dict[str, Any]]) -> str:
    """Per measure, its figures in time order."""
    if not rows:
        return "  no linked claims"
    out: list[str] = []
    current = None
    table: list[list[object]] = []
    header = ["seen", "outlet", "speaker", "via / cites", "figure", "period", "role"]

    def flush() -> None:
        if table:
            out.append(text_table(table, header))
            out.append("")

    for r in rows:
        if r["measure_id"] != current:
            flush()
            table = []
            current = r["measure_id"]
            out.append(f"Measure {r['measure_id']}: {r['measure']}")
        table.append(
            [
                _when(r["seen_at"]),
                str(r["outlet"])[:22],
                str(r["speaker"] or "-")[:28],
                str(r["via"] or r["cites"] or "")[:34],
                figure_text(r["value_low"], r["value_high"], r["rate_per"])
                + (" (hedged)" if r["hedged"] else ""),
                str(r["period"] or "")[:30],
                r["role"] or "",
            ]
        )
    flush()
    return "\n".join(out).rstrip()


def format_conflicts(rows: list[dict[str, Any]]) -> str:
    """Diverging and contradicting pairs side by side."""
    if not rows:
        return "  no conflicts"
    table = [
        [
            str(r["measure"])[:30],
            r["relation"],
            f"{r['ratio']:.2f}" if r["ratio"] else "-",
            f"{r['a_outlet']}: {figure_text(r['a_value_low'], r['a_value_high'], r['a_rate_per'])}"
            f" ({r['a_speaker'] or '-'})",
            f"{r['b_outlet']}: {figure_text(r['b_value_low'], r['b_value_high'], r['b_rate_per'])}"
            f" ({r['b_speaker'] or '-'})",
        ]
        for r in rows
    ]
    return text_table(table, ["measure", "relation", "ratio", "earlier", "later"])


def format_spread(rows: list[dict[str, Any]]) -> str:
    """Each figure's origin and spread."""
    if not rows:
        return "  no figure clusters"
    table = [
        [
            str(r["measure"])[:30],
            r["figure"],
            r["first_outlet"],
            _when(r["first_seen_at"]),
            str(r["first_speaker"] or "-")[:24],
            r["outlets"],
            r["copies"],
            r["attributed"],
            r["independent"],
        ]
        for r in rows
    ]
    return text_table(
        table,
        [
            "measure",
            "figure",
            "first outlet",
            "first seen",
            "speaker",
            "outlets",
            "copies",
            "attributed",
            "independent",
        ],
    )


def demo_report(engine: Engine, *, measures: int = 2) -> str:
    """The most widely reported measures: ledger, conflicts and spread."""
    with engine.connect() as conn:
        top = conn.execute(
            sa.text(
                "select measure_id, count(distinct outlet) as outlets, count(*) as claims "
                "from v_claim_ledger group by measure_id "
                "order by outlets desc, claims desc, measure_id limit :n"
            ),
            {"n": measures},
        ).all()
        if not top:
            return "Claim ledger: no linked claims yet"
        parts = ["Claim ledger: the most widely reported measures (mediamon ledger for all)"]
        for measure_id, outlets, claims in top:
            label = conn.execute(
                sa.text("select label from measure where id = :m"), {"m": measure_id}
            ).scalar_one()
            rows = ledger_rows(conn, measure_id=measure_id)
            parts.append(format_ledger(rows))
            conflicts = conflict_rows(conn, measure_id=measure_id)
            parts.append(f"\nConflicts for {label} ({len(conflicts)}):")
            parts.append(format_conflicts(conflicts[:10]))
            spread = spread_rows(conn, measure_id=measure_id)
            parts.append(
                f"\nSpread of each figure for {label} ({outlets} outlets, {claims} claims):"
            )
            parts.append(format_spread(spread[:10]))
            parts.append("")
        contradictions = [r for r in conflict_rows(conn) if r["relation"] == "contradicts"]
        parts.append(f"Contradictions, all measures ({len(contradictions)}):")
        parts.append(format_conflicts(contradictions[:10]))
    return "\n".join(parts).rstrip()


__all__ = [
    "conflict_rows",
    "demo_report",
    "figure_text",
    "format_conflicts",
    "format_ledger",
    "format_spread",
    "ledger_rows",
    "spread_rows",
]
