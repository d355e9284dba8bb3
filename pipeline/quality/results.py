"""Run suites with GX, turn results into typed records, store them (dq_run, dq_result, Data Docs).

One ephemeral GX context per validator, so per gate run: importing GX is the slow part
(seconds), the context itself is cheap, and a context keeps the validation results that the
run's Data Docs site renders.
Suites are re-registered on every gate run so changed thresholds take effect.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
)
from sqlalchemy.engine import Connection

from pipeline.config import Settings
from pipeline.logs import quiet_library_loggers
from pipeline.quality.docs import docs_root, docs_store, publish_site, run_site_dir
from pipeline.quality.docs_views import site_views
from pipeline.quality.suites import ARTICLE, ARTICLE_SOURCE, CLAIM, FEED_POLL, build_suites
from pipeline.warehouse.schema_quality import dq_result, dq_run, quarantine

# GX set one of its module loggers to INFO while being imported above.
quiet_library_loggers()
log = logging.getLogger(__name__)

DOCS_SITE = "mediamon"
# Columns reported with each failing row: the row's key plus what names the article it holds.
INDEX_COLUMNS = {
    ARTICLE: ["id"],
    CLAIM: ["id", "article_id"],
    FEED_POLL: ["id", "feed_id"],
    ARTICLE_SOURCE: ["id", "source", "failed", "articles"],
}
ENTITY = {ARTICLE: "article", CLAIM: "claim", FEED_POLL: "feed_poll", ARTICLE_SOURCE: "source"}
# SUMMARY results carry up to this many failing rows; more than that costs a COMPLETE re-run of
# just that expectation (the common all-pass case never pays for COMPLETE).
PARTIAL_COUNT = 50
SAMPLE_SIZE = 5
MAX_OBSERVED_CHARS = 300


@dataclass(frozen=True)
class RowFailure:
    """One row that failed one row-level expectation: a quarantine row to be."""

    entity: str
    entity_id: str
    article_id: str | None
    expectation: str
    reason: str
    observed_value: str | None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one frame."""

    key: str
    expectation_type: str
    level: str
    reason: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    observed_value: str | None
    sample: list[dict[str, str | None]]


@dataclass
class SuiteOutcome:
    """One suite validated on one frame."""

    suite: str
    rows_evaluated: int
    started_at: datetime
    finished_at: datetime
    checks: list[CheckResult]
    row_failures: list[RowFailure] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """True when every expectation passed."""
        return all(c.success for c in self.checks)

    @property
    def batch_failures(self) -> list[CheckResult]:
        """Failed expectations whose level is ``batch``: the batch must not be published."""
        return [c for c in self.checks if not c.success and c.level == "batch"]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, float) and value.is_integer():
        # A column with a null in it turns ints into floats; show counts as counts.
        return str(int(value))
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return ", ".join(str(_text(v)) for v in value)
    return str(value)[:MAX_OBSERVED_CHARS]


def _observed(entry: dict[str, Any], index_cols: list[str]) -> str | None:
    values = {k: v for k, v in entry.items() if k not in index_cols}
    if len(values) == 1:
        return _text(next(iter(values.values())))
    return "; ".join(f"{k}={_text(v)}" for k, v in values.items())[:MAX_OBSERVED_CHARS] or None


class Validator:
    """Validates frames against the suites of one settings object; renders the Data Docs site
    of gate run ``run_id`` (started at ``started``, default now)."""

    def __init__(
        self, settings: Settings, *, run_id: str = "adhoc", started: datetime | None = None
    ) -> None:
        self.docs_root = docs_root(settings)
        # A site per gate run (pipeline.quality.docs): GX's index builder deletes the pages of
        # every result its store does not hold, so a shared site lost each earlier run's pages.
        self.docs_dir = run_site_dir(self.docs_root, run_id, started or datetime.now(UTC))
        self.retention_days = settings.dq_docs_retention_days
        self.docs_store = docs_store(settings)
        self.context = self._context(self.docs_dir, self.docs_root.parent / "cache" / "jinja")
        self.suites = {
            name: self.context.suites.add_or_update(suite)
            for name, suite in build_suites(settings).items()
        }
        self.batch_defs = {}
        self.validations = {}
        source = self.context.data_sources.get("mediamon")
        for name, suite in self.suites.items():
            asset = source.get_asset(name)
            batch_def = asset.get_batch_definition("batch")
            self.batch_defs[name] = batch_def
            self.validations[name] = self.context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=name, data=batch_def, suite=suite)
            )

    @staticmethod
    def _context(docs_dir: Path, cache_dir: Path) -> Any:
        # A context per validator, so per gate run: it holds only this run's results, which
        # is what its Data Docs site shows (creating one costs ~10 ms; importing GX, seconds).
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        ctx.add_data_docs_site(
            site_name=DOCS_SITE,
            # GX types site_config as a TypedDict that doesn't list the builders'
            # view overrides, which GX's SiteBuilder accepts all the same.
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                **site_views(cache_dir),  # type: ignore[typeddict-item]
            },
        )
        source = ctx.data_sources.add_pandas("mediamon")
        for name in (ARTICLE, ARTICLE_SOURCE, CLAIM, FEED_POLL):
            source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("batch")
        return ctx

    def validate(self, suite: str, frame: pd.DataFrame, *, run_id: str) -> SuiteOutcome:
        """Run ``suite`` on ``frame`` (SUMMARY results) and collect its failing rows."""
        started = datetime.now(UTC)
        index_cols = INDEX_COLUMNS[suite]
        result = self.validations[suite].run(
            batch_parameters={"dataframe": frame},
            # Data Docs file the result under the pipeline run id, so a task log's run id
            # leads straight to its pages.
            run_id=RunIdentifier(run_name=run_id, run_time=started),
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": index_cols,
                "partial_unexpected_count": PARTIAL_COUNT,
            },
        )
        checks: list[CheckResult] = []
        failures: list[RowFailure] = []
        for res in result.results:
            meta = res.expectation_config.meta or {}
            info = res.result or {}
            entries = list(info.get("partial_unexpected_index_list") or [])
            check = CheckResult(
                key=meta["key"],
                expectation_type=res.expectation_config.type,
                level=meta["level"],
                reason=meta["reason"],
                success=bool(res.success),
                element_count=info.get("element_count"),
                unexpected_count=info.get("unexpected_count"),
                observed_value=_text(info.get("observed_value")),
                sample=[{k: _text(v) for k, v in e.items()} for e in entries[:SAMPLE_SIZE]],
            )
            checks.append(check)
            if check.success or check.level != "row":
                continue
            if (check.unexpected_count or 0) > len(entries):
                entries = self._all_unexpected(suite, frame, check.key)
            failures += [self._row_failure(suite, check, e, index_cols) for e in entries]
        return SuiteOutcome(
            suite=suite,
            rows_evaluated=len(frame),
            started_at=started,
            finished_at=datetime.now(UTC),
            checks=checks,
            row_failures=failures,
        )

    def _all_unexpected(self, suite: str, frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
        """Every failing row of one expectation: a COMPLETE re-run of just that expectation."""
        expectation = next(e for e in self.suites[suite].expectations if e.meta["key"] == key)
        batch = self.batch_defs[suite].get_batch(batch_parameters={"dataframe": frame})
        res = batch.validate(
            expectation,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": INDEX_COLUMNS[suite],
            },
        )
        return list(res.result.get("unexpected_index_list") or [])

    @staticmethod
    def _row_failure(
        suite: str, check: CheckResult, entry: dict[str, Any], index_cols: list[str]
    ) -> RowFailure:
        entity_id = str(entry["id"])
        article_id = entry.get("article_id") if suite == CLAIM else None
        if suite == ARTICLE:
            article_id = entity_id
        return RowFailure(
            entity=ENTITY[suite],
            entity_id=entity_id,
            article_id=str(article_id) if article_id is not None else None,
            expectation=f"{suite}.{check.key}",
            reason=check.reason,
            observed_value=_observed(entry, index_cols),
        )

    def build_docs(self, run_id: str) -> str:
        """Render this gate run's Data Docs site (its validations, the suites, its index), make
        it readable offline, apply retention and, with a shared store, upload it there
        (:mod:`pipeline.quality.docs`); return where the site's index page is.

        Only this run's pages (and the suites') are rendered: re-rendering every result the
        process holds made the docs the largest fixed cost of a small gate run.
        """
        keys: list[Any] = [
            k
            for k in self.context.validation_results_store.list_keys()
            if k.run_id.run_name == run_id
        ]
        keys += [ExpectationSuiteIdentifier(name=name) for name in self.suites]
        self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=keys)
        return publish_site(
            self.docs_dir,
            self.docs_root,
            run_id,
            retention_days=self.retention_days,
            store=self.docs_store,
        )


def record(
    conn: Connection,
    *,
    run_id: str,
    batch_no: int,
    outcome: SuiteOutcome,
    docs_path: Path | None,
    quarantined: list[RowFailure],
    rejected: bool,
) -> int:
    """Write one dq_run row, its dq_result rows and the given quarantine rows; return the id."""
    verdict = "rejected" if rejected else ("quarantined" if quarantined else "passed")
    dq_run_id: int = conn.execute(
        dq_run.insert()
        .values(
            run_id=run_id,
            suite=outcome.suite,
            batch_no=batch_no,
            started_at=outcome.started_at,
            finished_at=outcome.finished_at,
            success=outcome.success,
            outcome=verdict,
            rows_evaluated=outcome.rows_evaluated,
            rows_quarantined=len({(q.entity, q.entity_id) for q in quarantined}),
            docs_path=str(docs_path) if docs_path else None,
        )
        .returning(dq_run.c.id)
    ).scalar_one()
    conn.execute(
        dq_result.insert(),
        [
            {
                "dq_run_id": dq_run_id,
                "expectation": f"{outcome.suite}.{c.key}",
                "expectation_type": c.expectation_type,
                "level": c.level,
                "success": c.success,
                "element_count": c.element_count,
                "unexpected_count": c.unexpected_count,
                "observed_value": c.observed_value,
                "sample": c.sample,
            }
            for c in outcome.checks
        ],
    )
    if quarantined:
        now = datetime.now(UTC)
        conn.execute(
            quarantine.insert(),
            [
                {
                    "entity": q.entity,
                    "entity_id": q.entity_id,
                    "article_id": q.article_id,
                    "expectation": q.expectation,
                    "reason": q.reason,
                    "observed_value": q.observed_value,
                    "run_id": run_id,
                    "dq_run_id": dq_run_id,
                    "created_at": now,
                    "released_at": None,
                }
                for q in quarantined
            ],
        )
    return dq_run_id


def format_summary(run_id: str, outcomes: list[SuiteOutcome], verdict: str) -> str:
    """One screen for the Airflow task log: per suite and failed expectation, the counts."""
    rows: Counter[tuple[str, str]] = Counter()
    evaluated: Counter[str] = Counter()
    expectations: Counter[str] = Counter()
    failed_checks: Counter[str] = Counter()
    for out in outcomes:
        evaluated[out.suite] += out.rows_evaluated
        for check in out.checks:
            expectations[out.suite] += 1
            if not check.success:
                failed_checks[out.suite] += 1
                rows[(out.suite, check.key)] += check.unexpected_count or 0
    lines = [f"quality gate, run {run_id}: {verdict}"]
    lines.append(f"  {'suite':<16}{'rows':>8}{'checks':>8}{'failed':>8}")
    for suite in evaluated:
        lines.append(
            f"  {suite:<16}{evaluated[suite]:>8}{expectations[suite]:>8}{failed_checks[suite]:>8}"
        )
    if rows:
        lines.append("  failed expectations (rows):")
        for (suite, key), n in sorted(rows.items()):
            lines.append(f"    {suite}.{key}: {n}")
    return "\n".join(lines)
