"""The Media Monitor's screens as plain data: one function per page, one dict for HTML and JSON.

Each list page is a ``Listing`` (see ``pipeline.monitor.listing``) fetched with the request's
parameters; detail pages read one row and its neighbours. Everything here is a read of the
warehouse's documented views and tables; the only write is ``release_quarantine``, which goes
through the same code as ``mediamon quarantine release``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.config import mask_url, mask_urls_in_text
from pipeline.monitor import charts
from pipeline.monitor.listing import Column, Filter, Listing, Page, as_utc, fetch, plain

# A feed is healthy when its last poll succeeded, or was deferred by politeness rules.
HEALTHY_FEED_STATUSES = ("ok", "not_modified", "deferred")
# The overview's chart window, and how many pipeline runs the overview lists.
CHART_HOURS = 48
RECENT_RUNS = 10
# DQ pass rate over this many latest gate validations (a rate over all time hides a new breakage).
DQ_RATE_WINDOW = 50
# Characters of article text shown on each side of a claim's evidence on its page.
CONTEXT_CHARS = 1200
# A Media Monitor query running longer than this is cancelled by PostgreSQL (see ``reading``).
STATEMENT_TIMEOUT_MS = 15_000
# Above this many rows (by the planner's estimate) an overview tile shows PostgreSQL's estimate,
# marked as approximate: counting 5 million claims exactly costs half a second on every view of
# the overview, and an operator reading "about 5.0M" loses nothing.
EXACT_COUNT_LIMIT = 200_000


class NotFoundError(LookupError):
    """The page's subject (a feed, story or claim id) is not in the warehouse."""


class TooSlowError(RuntimeError):
    """A page's query ran past STATEMENT_TIMEOUT_MS and was stopped by the warehouse."""


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for one page's reads.

    On PostgreSQL, JIT compilation is off for it: the planner's cost estimates for a page over
    millions of ledger rows pass ``jit_above_cost`` although the page reads 50 of them, and
    compiling then costs more (20-100 ms) than the query. ``set local`` ends with the
    connection's transaction, so pooled connections return to the pipeline unchanged.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("set local jit = off")
            # A page that would take longer is stopped and answered with a message (TooSlowError)
            # rather than holding an api-server thread and a warehouse backend for minutes.
            conn.exec_driver_sql(f"set local statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        try:
            yield conn
        except sa.exc.OperationalError as exc:
            if "statement timeout" in str(exc):
                raise TooSlowError(
                    f"the warehouse took more than {STATEMENT_TIMEOUT_MS / 1000:g} s for this"
                    " view: narrow it with a filter (a measure, a speaker, a date range)"
                ) from None
            raise


# --- list pages -------------------------------------------------------------------------------

_HEALTHY = ", ".join(f"'{s}'" for s in HEALTHY_FEED_STATUSES)

FEEDS = Listing(
    name="feeds",
    # Poll statistics are correlated subqueries so that PostgreSQL evaluates them for the page's
    # rows only (after the sort and limit), not for every poll ever recorded.
    source=(
        "(select f.id as feed_id, s.name as source, f.url, f.enabled, f.status,"
        f" (f.enabled and f.status not in ({_HEALTHY})) as broken,"
        " f.failures, f.last_success_at, f.last_polled_at, f.next_poll_at,"
        " coalesce(f.poll_interval_s, f.interval_s) as interval_s,"
        " (select count(*) from feed_poll as p where p.feed_id = f.id) as polls,"
        " (select avg(case when p.status = 'not_modified' then 1.0 else 0.0 end)"
        "  from feed_poll as p where p.feed_id = f.id) as not_modified_share,"
        " f.last_error"
        " from feed as f join source as s on s.id = f.source_id)"
    ),
    columns=(
        Column("source", "outlet"),
        Column("status", "status", "status"),
        Column("failures", "weighted failures", "number"),
        Column("last_success_at", "last success", "time"),
        Column("last_polled_at", "last poll", "time"),
        Column("not_modified_share", "304 share", "ratio"),
        Column("interval_s", "interval (s)", "number"),
        Column("next_poll_at", "next poll", "time"),
        Column("polls", "polls", "number"),
        Column("last_error", "last error", "long", sortable=False),
    ),
    # Broken feeds first: an operator opens this tab to find them.
    default_sort="broken",
    filters=(
        Filter("q", "outlet or URL", "lower(source) || ' ' || lower(url)"),
        Filter("status", "status", "status", "exact"),
        Filter("broken", "broken only", "broken", "bool"),
    ),
    key="feed_id",
    extra=("url", "enabled", "broken"),
)

# Read from the story table the dedupe stage maintains (indexed, one row per story), not from
# v_story_spread, which aggregates every article on each query: a page must not cost a scan of
# the whole warehouse. Copies are counted for the rows of the page only.
STORIES = Listing(
    name="stories",
    source=(
        "(select s.id as story_id, a.title as first_title, src.name as first_outlet,"
        " s.first_seen_at, s.article_count, s.outlet_count, s.last_seen_at,"
        " (select count(*) from article_dedupe as d where d.story_id = s.id"
        "  and d.label = 'wire_copy') as wire_copies"
        " from story as s join source as src on src.id = s.first_source_id"
        " left join article as a on a.id = s.first_article_id)"
    ),
    columns=(
        Column("first_title", "story (first headline)"),
        Column("first_outlet", "first outlet"),
        Column("first_seen_at", "first seen", "time"),
        Column("article_count", "articles", "number"),
        Column("outlet_count", "outlets", "number"),
        Column("wire_copies", "copies", "number"),
        Column("last_seen_at", "latest", "time"),
    ),
    default_sort="first_seen_at",
    filters=(
        Filter("q", "headline", "first_title"),
        Filter("outlet", "first outlet", "first_outlet"),
        Filter("since", "since", "first_seen_at", "since"),
        Filter("until", "until", "first_seen_at", "until"),
    ),
    key="story_id",
)

CLAIMS = Listing(
    name="claims",
    source="v_claim_ledger",
    columns=(
        Column("seen_at", "seen", "time"),
        Column("measure", "measure"),
        Column("outlet", "outlet"),
        Column("speaker", "speaker"),
        Column("via", "via"),
        Column("cites", "cites"),
        Column("value_low", "low", "number"),
        Column("value_high", "high", "number"),
        Column("qualifier", "qualifier"),
        Column("rate_per", "per"),
        Column("period", "period"),
        Column("hedged", "hedged", "bool"),
        Column("role", "role"),
    ),
    default_sort="seen_at",
    filters=(
        # Measures and outlets are small tables: the filter finds their ids first, so the ledger
        # is read through its (measure_id, seen_at) index instead of scanned.
        Filter(
            "measure",
            "measure",
            "measure_id",
            "lookup",
            lookup="select id from measure where lower(label) like :value",
        ),
        # Every linked claim's speaker is an actor (the ledger resolves each name): the speaker
        # filter goes through the actor table to claim's indexed speaker_actor_id.
        Filter(
            "speaker",
            "speaker",
            "speaker_actor_id",
            "lookup",
            lookup="select id from actor where lower(name) like :value",
        ),
        Filter("outlet", "outlet", "outlet"),
        Filter("hedged", "hedged", "hedged", "bool"),
        Filter("since", "since", "seen_at", "since"),
        Filter("until", "until", "seen_at", "until"),
    ),
    key="claim_id",
    extra=("measure_id", "article_id"),
    count=False,
    # Sorting 5 million claims by value took 17 s; the claims of a measure or speaker, a blink.
    sort_filters=("measure", "speaker"),
)

# Read from claim_relation, newest conflict first (indexed), joining the two claims of the page's
# rows only; v_claim_conflicts builds both sides for every claim before it can pick a row.
# Sides come as p (claim_a) and q (claim_b); ``conflicts`` orders them by when each was seen.
_CONFLICT_SIDE = (
    " join claim as {x}c on {x}c.id = r.claim_{ab}"
    " join claim_measure as {x}m on {x}m.claim_id = {x}c.id"
    " join article as {x}a on {x}a.id = {x}c.article_id"
    " join source as {x}s on {x}s.id = {x}m.source_id"
    " left join actor as {x}sp on {x}sp.id = {x}c.speaker_actor_id"
    " left join actor as {x}vi on {x}vi.id = {x}c.via_actor_id"
    " left join actor as {x}ci on {x}ci.id = {x}c.cites_actor_id"
)
_SIDE_FIELDS = (
    "claim_id", "seen_at", "outlet", "speaker", "via", "cites", "value_low", "value_high",
    "rate_per", "period",
)
_SIDE_SQL = {
    "claim_id": "{x}c.id", "seen_at": "{x}m.seen_at", "outlet": "{x}s.name",
    "speaker": "coalesce({x}sp.name, {x}c.speaker)", "via": "{x}vi.name", "cites": "{x}ci.name",
    "value_low": "{x}c.value_low", "value_high": "{x}c.value_high",
    "rate_per": "{x}c.rate_per", "period": "{x}c.period",
}


def _conflict_source() -> str:
    fields = ", ".join(
        f"{_SIDE_SQL[f].format(x=x)} as {x}_{f}" for x in ("p", "q") for f in _SIDE_FIELDS
    )
    return (
        "(select r.measure_id, m.label as measure, r.relation, r.ratio, r.reason,"
        f" r.created_at as found_at, {fields}"
        " from claim_relation as r join measure as m on m.id = r.measure_id"
        + _CONFLICT_SIDE.format(x="p", ab="a")
        + _CONFLICT_SIDE.format(x="q", ab="b")
        + " where r.relation in ('diverges', 'contradicts')"
        " and pa.status = 'published' and qa.status = 'published'"
        " and not pc.held and not qc.held)"
    )


CONFLICTS = Listing(
    name="conflicts",
    source=_conflict_source(),
    columns=(
        Column("found_at", "found", "time"),
        Column("measure", "measure"),
        Column("relation", "relation", "status"),
        Column("ratio", "ratio", "ratio"),
    ),
    default_sort="found_at",
    filters=(
        Filter("measure", "measure", "measure"),
        Filter("relation", "relation", "relation", "choice", ("diverges", "contradicts")),
        Filter("outlet", "outlet", "lower(p_outlet) || ' ' || lower(q_outlet)"),
    ),
    key="q_claim_id",
    extra=("reason", "measure_id", *(f"{x}_{f}" for x in ("p", "q") for f in _SIDE_FIELDS)),
    count=False,
)


DQ_RUNS = Listing(
    name="dq_runs",
    source=(
        "(select id, run_id, suite, batch_no, finished_at, success, outcome, rows_evaluated,"
        " rows_quarantined from dq_run)"
    ),
    columns=(
        Column("id", "gate run", "number"),
        Column("run_id", "pipeline run", "id"),
        Column("suite", "suite"),
        Column("batch_no", "batch", "number"),
        Column("finished_at", "finished", "time"),
        Column("outcome", "outcome", "status"),
        Column("rows_evaluated", "rows", "number"),
        Column("rows_quarantined", "quarantined", "number"),
    ),
    # Latest gate runs first, with no row limit beyond the page: new runs never fall off.
    default_sort="id",
    filters=(
        Filter("suite", "suite", "suite", "exact"),
        Filter("outcome", "outcome", "outcome", "exact"),
    ),
    key="id",
)

FAILING = Listing(
    name="failing",
    source=(
        "(select r.id, d.id as dq_run_id, d.run_id, d.suite, d.finished_at, r.expectation,"
        " r.level, r.element_count, r.unexpected_count, r.observed_value"
        " from dq_result as r join dq_run as d on d.id = r.dq_run_id where not r.success)"
    ),
    columns=(
        Column("finished_at", "when", "time"),
        Column("suite", "suite"),
        Column("expectation", "expectation"),
        Column("level", "level"),
        Column("element_count", "rows", "number"),
        Column("unexpected_count", "unexpected", "number"),
        Column("observed_value", "observed", "long", sortable=False),
        Column("run_id", "pipeline run", "id"),
    ),
    default_sort="id",
    filters=(Filter("expectation", "expectation", "expectation"),),
    key="id",
)

QUARANTINE = Listing(
    name="quarantine",
    source=(
        "(select q.id, q.entity, q.entity_id, q.article_id, q.expectation, q.reason,"
        " q.observed_value, q.run_id, q.created_at, q.released_at,"
        " (q.released_at is null) as open, a.title"
        " from quarantine as q left join article as a on a.id = q.article_id)"
    ),
    columns=(
        Column("id", "row", "number"),
        Column("created_at", "quarantined", "time"),
        Column("entity", "what"),
        Column("title", "article"),
        Column("expectation", "expectation"),
        Column("reason", "reason", "long", sortable=False),
        Column("observed_value", "observed", "long", sortable=False),
        Column("released_at", "released", "time"),
    ),
    default_sort="id",
    filters=(
        Filter("open", "open only", "open", "bool"),
        Filter("expectation", "expectation", "expectation"),
    ),
    key="id",
    extra=("entity_id", "article_id", "open"),
)


def _masked_page(page: Page) -> dict[str, Any]:
    """``page`` as a dict, with every password in a URL or error text masked."""
    data = page.as_dict()
    data["rows"] = masked(data["rows"])
    return data


def masked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with every password masked, in URL columns and in any text that quotes a URL.

    Every Airflow user who may view the page sees these; a feed URL can carry the operator's
    credentials for a paywalled feed (``https://user:password@...``), and an error can quote it.
    """
    return [
        {
            key: (mask_url(value) if key.endswith("url") else mask_urls_in_text(value))
            if isinstance(value, str)
            else value
            for key, value in row.items()
        }
        for row in rows
    ]


def feeds(conn: sa.Connection, query: Mapping[str, str]) -> dict[str, Any]:
    """The Feeds tab: feed health, broken feeds first."""
    return {"feeds": _masked_page(fetch(conn, FEEDS, query))}


def stories(conn: sa.Connection, query: Mapping[str, str]) -> dict[str, Any]:
    """The Stories tab: newest first (sort by articles for the biggest)."""
    return {"stories": _masked_page(fetch(conn, STORIES, query))}


def claims(conn: sa.Connection, query: Mapping[str, str]) -> dict[str, Any]:
    """The Claims tab: the claim ledger, filterable by measure, speaker, outlet, hedge and date."""
    return {"claims": _masked_page(fetch(conn, CLAIMS, query))}


def conflicts(conn: sa.Connection, query: Mapping[str, str]) -> dict[str, Any]:
    """The Conflicts view: diverging and contradicting figures for the same measure, side by side
    (side a is the claim seen first, as in v_claim_conflicts)."""
    page = _masked_page(fetch(conn, CONFLICTS, query))
    page["rows"] = [_sides(row) for row in page["rows"]]
    return {"conflicts": page}


def _sides(row: dict[str, Any]) -> dict[str, Any]:
    p_first = (row["p_seen_at"] or "") <= (row["q_seen_at"] or "")
    first, second = ("p", "q") if p_first else ("q", "p")
    out = {k: v for k, v in row.items() if not k.startswith(("p_", "q_"))}
    for side, src in (("a", first), ("b", second)):
        for f in _SIDE_FIELDS:
            out[f"{side}_{f}"] = row[f"{src}_{f}"]
    return out


def quality(conn: sa.Connection, query: Mapping[str, str]) -> dict[str, Any]:
    """The Quality tab: gate runs (latest first), failing expectations, quarantined rows.

    The three tables page independently: their parameters carry a prefix (``runs.page``,
    ``failing.sort``, ``quarantine.open`` ...).
    """
    return {
        "dq_runs": _masked_page(fetch(conn, DQ_RUNS, _prefixed(query, "runs"))),
        "failing": _masked_page(fetch(conn, FAILING, _prefixed(query, "failing"))),
        "quarantine": _masked_page(fetch(conn, QUARANTINE, _prefixed(query, "quarantine"))),
    }


def _prefixed(query: Mapping[str, str], prefix: str) -> dict[str, str]:
    start = f"{prefix}."
    return {k[len(start) :]: v for k, v in query.items() if k.startswith(start)}


# --- detail pages -----------------------------------------------------------------------------


def _one(conn: sa.Connection, sql: str, **params: Any) -> dict[str, Any]:
    row = conn.execute(sa.text(sql), params).mappings().first()
    if row is None:
        raise NotFoundError(f"no such row: {params}")
    return masked([{k: plain(v) for k, v in row.items()}])[0]


def _all(conn: sa.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    rows = conn.execute(sa.text(sql), params).mappings()
    return masked([{k: plain(v) for k, v in row.items()} for row in rows])


def feed_detail(conn: sa.Connection, feed_id: int, query: Mapping[str, str]) -> dict[str, Any]:
    """A feed's page: its health row, its poll history (chart and table), its recent errors."""
    row = _one(
        conn,
        f"select * from {FEEDS.source} as t where feed_id = :feed_id",
        feed_id=feed_id,
    )
    polls = Listing(
        name="polls",
        source=(
            "(select id, feed_id, run_id, started_at, duration_ms, status, http_status, bytes,"
            " entries_seen, entries_new, error, warning from feed_poll)"
        ),
        columns=(
            Column("started_at", "started", "time"),
            Column("status", "status", "status"),
            Column("http_status", "HTTP", "number"),
            Column("duration_ms", "ms", "number"),
            Column("bytes", "bytes", "number"),
            Column("entries_seen", "entries", "number"),
            Column("entries_new", "new", "number"),
            Column("error", "error / warning", "long", sortable=False),
        ),
        default_sort="id",
        filters=(Filter("status", "status", "status", "exact"),),
        where=("feed_id = :feed_id",),
        params={"feed_id": feed_id},
        extra=("warning",),
    )
    history = _all(
        conn,
        "select started_at, status, duration_ms, entries_new from feed_poll"
        " where feed_id = :feed_id order by id desc limit 200",
        feed_id=feed_id,
    )[::-1]
    errors = _all(
        conn,
        "select started_at, status, http_status, error from feed_poll"
        " where feed_id = :feed_id and error is not null order by id desc limit 20",
        feed_id=feed_id,
    )
    return {
        "feed": row,
        "chart": charts.poll_history(history),
        "errors": errors,
        "polls": _masked_page(fetch(conn, polls, query)),
    }


def story_detail(conn: sa.Connection, story_id: str) -> dict[str, Any]:
    """A story's page: every article with its copy label and copy chain, and its spread."""
    articles = _all(
        conn,
        "select d.article_id, src.name as source, a.title, a.url, a.status,"
        " coalesce(sig.seen_at, a.published_at, a.discovered_at) as seen_at,"
        " d.label, d.agency, d.duplicate_of, d.duplicate_kind, d.copied_from,"
        " csrc.name as copied_from_source, d.overlap, d.similarity"
        " from article_dedupe as d"
        " join article as a on a.id = d.article_id"
        " join source as src on src.id = a.source_id"
        " left join article_signature as sig on sig.article_id = d.article_id"
        " left join article as ca on ca.id = d.copied_from"
        " left join source as csrc on csrc.id = ca.source_id"
        " where d.story_id = :story_id order by seen_at, d.article_id",
        story_id=story_id,
    )
    if not articles:
        raise NotFoundError(f"no story {story_id}")
    by_id = {a["article_id"]: a for a in articles}
    for a in articles:
        a["chain"] = _copy_chain(a, by_id)
    published = [a for a in articles if a["status"] == "published"]
    first = published[0] if published else None
    spread = {
        "first_title": first["title"] if first else None,
        "first_outlet": first["source"] if first else None,
        "first_seen_at": first["seen_at"] if first else None,
        "article_count": len(published),
        "outlet_count": len({a["source"] for a in published}),
        "wire_copies": sum(1 for a in published if a["label"] == "wire_copy"),
        "independent_outlets": len(
            {a["source"] for a in published if a["label"] in ("original", "independent")}
        ),
    }
    return {"story": spread if first else None, "story_id": story_id, "articles": articles}


def _copy_chain(article: dict[str, Any], by_id: dict[Any, dict[str, Any]]) -> list[str]:
    """Outlets this article was copied from, nearest first (a copy of a copy of the original)."""
    chain: list[str] = []
    seen = {article["article_id"]}
    current = article
    while current.get("copied_from") is not None and current["copied_from"] not in seen:
        seen.add(current["copied_from"])
        parent = by_id.get(current["copied_from"])
        chain.append(
            (parent or {}).get("source") or current.get("copied_from_source") or "another story"
        )
        if parent is None:
            break
        current = parent
    return chain


def claim_detail(conn: sa.Connection, claim_id: int) -> dict[str, Any]:
    """A claim's page: the claim, its ledger rows, and its article with the evidence marked."""
    claim = _one(conn, "select * from v_claims where claim_id = :claim_id", claim_id=claim_id)
    article = _one(
        conn,
        "select article_id, source, url, title, published_at, text from v_articles"
        " where article_id = :article_id",
        article_id=claim["article_id"],
    )
    text = article.pop("text") or ""
    start, end = claim["start_offset"], claim["end_offset"]
    vstart, vend = claim.get("value_start"), claim.get("value_end")
    lo = max(0, start - CONTEXT_CHARS)
    hi = min(len(text), end + CONTEXT_CHARS)
    # Evidence split in pieces so the template marks the sentence and, inside it, the figure
    # or quoted words; every piece is escaped by the template, none is trusted markup.
    inner = [(text[start:end], "evidence")]
    if vstart is not None and vend is not None and start <= vstart < vend <= end:
        inner = [
            (text[start:vstart], "evidence"),
            (text[vstart:vend], "value"),
            (text[vend:end], "evidence"),
        ]
    pieces = [(text[lo:start], "context"), *inner, (text[end:hi], "context")]
    ledger = _all(
        conn,
        "select measure_id, measure, cluster_id, role from v_claim_ledger where claim_id = :c",
        c=claim_id,
    )
    return {
        "claim": claim,
        "article": article,
        "evidence": [{"text": t, "part": p} for t, p in pieces if t],
        "clipped_before": lo > 0,
        "clipped_after": hi < len(text),
        "ledger": ledger,
    }


# --- overview ---------------------------------------------------------------------------------


def _count(conn: sa.Connection, sql: str, **params: Any) -> int:
    return int(conn.execute(sa.text(sql), params).scalar() or 0)


def _estimate(conn: sa.Connection, rows_sql: str, **params: Any) -> int | None:
    """The planner's row estimate for ``rows_sql`` (PostgreSQL only; None elsewhere)."""
    if conn.dialect.name != "postgresql":
        return None
    plan: Any = conn.execute(sa.text(f"explain (format json) {rows_sql}"), params).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _tile_count(
    conn: sa.Connection, approximate: list[str], key: str, rows_sql: str, **params: Any
) -> int:
    """How many rows ``rows_sql`` returns: exact, or the planner's estimate when that is over
    EXACT_COUNT_LIMIT (then ``key`` is added to ``approximate``)."""
    estimate = _estimate(conn, rows_sql, **params)
    if estimate is not None and estimate > EXACT_COUNT_LIMIT:
        approximate.append(key)
        return estimate
    return _count(conn, f"select count(*) from ({rows_sql}) as c", **params)


def _bound(conn: sa.Connection, value: datetime) -> datetime:
    """A UTC time as the warehouse compares it: SQLite stores naive UTC text."""
    return value.replace(tzinfo=None) if conn.dialect.name == "sqlite" else value


def _hour_expr(conn: sa.Connection, column: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"date_trunc('hour', {column})"
    return f"strftime('%Y-%m-%d %H:00:00', {column})"


def overview(conn: sa.Connection, now: datetime | None = None) -> dict[str, Any]:
    """The Overview tab: tiles, articles per hour by status, and the last runs by stage."""
    now = as_utc(now or datetime.now(UTC))
    latest = conn.execute(sa.text("select max(discovered_at) from article")).scalar()
    if isinstance(latest, str):
        latest = datetime.fromisoformat(latest)
    # An idle warehouse still shows its last activity: the window ends at the newest article.
    end = min(as_utc(latest), now) if latest else now
    end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=CHART_HOURS)
    hour = _hour_expr(conn, "discovered_at")
    per_hour = conn.execute(
        sa.text(
            f"select {hour} as hour, status, count(*) as n from article"
            " where discovered_at >= :start and discovered_at < :end group by 1, 2"
        ),
        {"start": _bound(conn, start), "end": _bound(conn, end)},
    ).all()
    day_ago = _bound(conn, now - timedelta(hours=24))
    dq = conn.execute(
        sa.text(
            "select count(*), sum(case when success then 1 else 0 end) from"
            f" (select success from dq_run order by id desc limit {DQ_RATE_WINDOW}) as r"
        )
    ).one()
    approximate: list[str] = []

    def tile(key: str, rows_sql: str, **params: Any) -> int:
        return _tile_count(conn, approximate, key, rows_sql, **params)

    tiles = {
        "articles": tile("articles", "select 1 from article"),
        "published": tile("published", "select 1 from article where status = 'published'"),
        "published_24h": tile(
            "published_24h",
            "select 1 from article where status = 'published' and discovered_at >= :t",
            t=day_ago,
        ),
        "failed": tile("failed", "select 1 from v_failures"),
        "broken_feeds": _count(conn, f"select count(*) from {FEEDS.source} as t where broken"),
        "feeds": _count(conn, "select count(*) from feed where enabled"),
        "quarantine_open": tile(
            "quarantine_open", "select 1 from quarantine where released_at is null"
        ),
        "dq_runs": dq[0] or 0,
        "dq_pass_rate": (dq[1] or 0) / dq[0] if dq[0] else None,
        "stories": tile("stories", "select 1 from story where article_count > 0"),
        "claims": tile("claims", "select 1 from claim"),
        "conflicts": tile(
            "conflicts",
            "select 1 from claim_relation where relation in ('diverges', 'contradicts')",
        ),
    }
    return {
        "generated_at": now.replace(microsecond=0).isoformat(),
        "tiles": tiles,
        # Tiles whose figure is PostgreSQL's estimate (tables too big to count on every view).
        "approximate": approximate,
        "chart": charts.articles_per_hour(
            [(_hour_key(h), s, n) for h, s, n in per_hour], start, CHART_HOURS
        ),
        "runs": recent_runs(conn),
    }


def _hour_key(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def recent_runs(conn: sa.Connection, limit: int = RECENT_RUNS) -> list[dict[str, Any]]:
    """The latest pipeline runs, each with its stages' status, duration and counts in words."""
    run_ids = [
        r
        for (r,) in conn.execute(
            sa.text(
                "select run_id from pipeline_run group by run_id order by max(id) desc limit :n"
            ),
            {"n": limit},
        )
    ]
    if not run_ids:
        return []
    rows = conn.execute(
        sa.text(
            "select run_id, stage, status, started_at, finished_at, counts, error"
            " from pipeline_run where run_id in :ids order by id"
        ).bindparams(sa.bindparam("ids", expanding=True)),
        {"ids": run_ids},
    ).mappings()
    runs: dict[str, dict[str, Any]] = {r: {"run_id": r, "stages": []} for r in run_ids}
    for row in rows:
        started, finished = row["started_at"], row["finished_at"]
        if isinstance(started, str):
            started = datetime.fromisoformat(started)
        if isinstance(finished, str):
            finished = datetime.fromisoformat(finished)
        counts = row["counts"]
        if isinstance(counts, str):
            counts = json.loads(counts)
        runs[row["run_id"]]["stages"].append(
            {
                "stage": row["stage"],
                "status": row["status"],
                "started_at": plain(started) if started else None,
                "seconds": round((finished - started).total_seconds(), 1)
                if started and finished
                else None,
                "summary": counts_in_words(counts or {}),
                "counts": counts or {},
                "error": mask_urls_in_text(row["error"]) if row["error"] else None,
            }
        )
    for run in runs.values():
        starts = [s["started_at"] for s in run["stages"] if s["started_at"]]
        run["started_at"] = min(starts) if starts else None
        run["seconds"] = round(sum(s["seconds"] or 0 for s in run["stages"]), 1)
    return [runs[r] for r in run_ids]


def counts_in_words(counts: Mapping[str, Any]) -> str:
    """A stage's counts as a short line ("fetched 39 · failed 1 (http_404 1)"), not dict text."""
    parts = []
    for key, value in counts.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int | float):
            parts.append(f"{key.replace('_', ' ')} {value:,}")
        elif isinstance(value, Mapping) and value:
            # One level of breakdown (reasons, statuses); deeper summaries belong to their stage.
            inner = ", ".join(
                f"{k} {int(v) if isinstance(v, float) and v.is_integer() else v}"
                for k, v in value.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
            if inner:
                parts.append(f"{key.replace('_', ' ')}: {inner}")
    return " · ".join(parts)
