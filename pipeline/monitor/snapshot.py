"""The Media Monitor view: what an operator needs at a glance, read from the warehouse.

Pure queries and rendering; the Airflow plugin in plugins/media_monitor.py only serves them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine

from pipeline.monitor.pages import masked
from pipeline.warehouse.queries import articles_by_status
from pipeline.warehouse.schema import pipeline_run

TEMPLATES = Path(__file__).parent.parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

# Enough rows to spot a pattern without making the page slow on a large warehouse.
MAX_FAILURES = 100
MAX_RUNS = 30


@dataclass(frozen=True)
class MonitorSnapshot:
    """Everything the Media Monitor page shows, as plain data (also served as JSON)."""

    generated_at: str
    feeds: list[dict[str, Any]]
    articles_by_status: dict[str, int]
    failures: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _rows(conn: sa.Connection, query: str, limit: int | None = None) -> list[dict[str, Any]]:
    if limit is not None:
        query = f"{query} limit {int(limit)}"
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in conn.execute(sa.text(query)).mappings()
    ]


def _view_exists(conn: sa.Connection, name: str) -> bool:
    return name in sa.inspect(conn).get_view_names()


# Views of later stages, shown when their migration has created them.
OPTIONAL_SECTIONS = {
    "Stories": "select * from v_story_spread order by first_seen_at desc",
    "Claim conflicts": (
        "select measure, relation, ratio, a_outlet, a_speaker, a_value_low, a_value_high, "
        "a_rate_per, b_outlet, b_speaker, b_value_low, b_value_high, b_rate_per, reason "
        "from v_claim_conflicts order by b_seen_at desc"
    ),
    # Published articles whose claims were not extracted, and why (issue 16: no model for the
    # article's language).
    "Claims not extracted": (
        "select nlp_status, count(*) as articles from v_articles "
        "where nlp_status is not null and nlp_status <> 'ok' group by nlp_status"
    ),
    "Data quality": "select * from v_dq_summary",
}


def snapshot(engine: Engine) -> MonitorSnapshot:
    """Read the current state of the pipeline from the warehouse."""
    with engine.connect() as conn:
        feeds = _rows(
            conn,
            "select source, url, enabled, status, failures, last_polled_at, last_http_status, "
            "last_entries_seen, last_entries_new, last_error, last_warning, polls "
            "from v_feed_health order by source",
        )
        by_status = articles_by_status(conn)
        failures = _rows(
            conn,
            "select source, url, stage, reason, error, attempts, next_attempt_at, updated_at "
            "from v_failures order by updated_at desc",
            MAX_FAILURES,
        )
        runs = [
            {
                "run_id": r.run_id,
                "stage": r.stage,
                "status": r.status,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "counts": r.counts,
                "error": r.error,
            }
            for r in conn.execute(
                sa.select(pipeline_run).order_by(pipeline_run.c.id.desc()).limit(MAX_RUNS)
            )
        ]
        sections = {}
        for title, query in OPTIONAL_SECTIONS.items():
            view = query.split(" from ", 1)[1].split()[0]
            if _view_exists(conn, view):
                sections[title] = _rows(conn, query, MAX_FAILURES)
    return MonitorSnapshot(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        feeds=masked(feeds),
        articles_by_status=by_status,
        failures=masked(failures),
        runs=masked(runs),
        sections={title: masked(rows) for title, rows in sections.items()},
    )


def render(snap: MonitorSnapshot) -> str:
    """The Media Monitor page as HTML (server-side; no JavaScript needed)."""
    return _env.get_template("monitor.html").render(snap=snap)
