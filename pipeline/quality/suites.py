"""Expectation suites, declared in code (GX 1.x): one per kind of frame the gate validates.

Every expectation carries ``meta``: ``key`` (the stable name stored in dq_result and quarantine),
``level`` (``row``: what a failing row is about is held back, and only that: the article, the
claim, or the source's waiting articles; ``batch``: the whole batch is rejected) and ``reason``
(what a person reads in ``mediamon quarantine list``). Thresholds come from settings, so the
suites are rebuilt from them on every gate run.

The frames (pipeline/quality/frames.py) carry a few derived columns, computed in pandas, where a
check spans two tables or needs arithmetic (an article slice, fetched_at + 1 day); the comparison
itself is always a GX expectation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import great_expectations as gx
from great_expectations.expectations.core.expect_column_pair_values_a_to_be_greater_than_b import (
    ExpectColumnPairValuesAToBeGreaterThanB,
)
from great_expectations.expectations.core.expect_column_pair_values_to_be_equal import (
    ExpectColumnPairValuesToBeEqual,
)
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.core.expect_column_values_to_be_null import (
    ExpectColumnValuesToBeNull,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
    ExpectColumnValuesToNotBeNull,
)
from great_expectations.expectations.core.expect_table_row_count_to_be_between import (
    ExpectTableRowCountToBeBetween,
)
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.row_conditions import Column

from pipeline.config import Settings
from pipeline.warehouse.schema import ARTICLE_STATUSES, FEED_STATUSES
from pipeline.warehouse.schema_claims import CLAIM_KINDS, CLAIM_RATES

ARTICLE = "article"
ARTICLE_SOURCE = "article_source"
CLAIM = "claim"
FEED_POLL = "feed_poll"
SUITE_NAMES = (ARTICLE, ARTICLE_SOURCE, CLAIM, FEED_POLL)

QUALIFIERS = ("exact", "approximately", "more_than", "less_than", "up_to", "at_least", "range")
RATE_PERIODS = CLAIM_RATES
# Nothing before this is news we monitor; earlier dates are parse errors (epoch 0, year 0201).
EARLIEST_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)


def _meta(key: str, reason: str, level: str = "row") -> dict[str, Any]:
    return {"key": key, "level": level, "reason": reason}


def article_suite(settings: Settings) -> gx.ExpectationSuite:
    """Row-level checks of one batch of articles about to be published."""
    langs = sorted(settings.languages)
    lo, hi = settings.dq_min_words, settings.dq_max_words
    expectations: list[Expectation] = [
        ExpectColumnValuesToNotBeNull(
            column="url", meta=_meta("url_not_null", "article has no URL")
        ),
        ExpectColumnValuesToBeUnique(
            column="url", meta=_meta("url_unique", "URL appears twice in the batch")
        ),
        ExpectColumnValuesToNotBeNull(
            column="url_hash", meta=_meta("url_hash_not_null", "article has no URL hash")
        ),
        ExpectColumnValuesToBeUnique(
            column="url_hash", meta=_meta("url_hash_unique", "URL hash appears twice in the batch")
        ),
        ExpectColumnValuesToNotBeNull(
            column="canonical_hash",
            meta=_meta("canonical_hash_not_null", "article has no canonical-URL hash"),
        ),
        # Derived: id of an earlier article in the batch, or of a published one, with the same
        # canonical URL; the first one seen is kept, later copies are held back.
        ExpectColumnValuesToBeNull(
            column="canonical_duplicate_of",
            meta=_meta(
                "canonical_url_unique",
                "canonical URL already belongs to another published or earlier article",
            ),
        ),
        ExpectColumnValuesToNotBeNull(
            column="title", meta=_meta("title_not_null", "no title was extracted")
        ),
        ExpectColumnValuesToNotBeNull(
            column="text", meta=_meta("text_not_null", "no text was extracted")
        ),
        ExpectColumnValuesToBeBetween(
            column="word_count",
            min_value=lo,
            max_value=hi,
            meta=_meta("word_count_in_bounds", f"word count outside [{lo}, {hi}]"),
        ),
        ExpectColumnValuesToBeInSet(
            column="language",
            value_set=langs,
            meta=_meta("language_allowed", f"language not in the configured set {langs}"),
        ),
        ExpectColumnValuesToBeBetween(
            column="published_at",
            min_value=EARLIEST_PUBLISHED,
            meta=_meta("published_at_not_too_early", "published_at before 1990"),
        ),
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="published_at_max",
            column_B="published_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("published_at_not_future", "published_at later than fetched_at + 1 day"),
        ),
        ExpectColumnValuesToBeInSet(
            column="status",
            value_set=list(ARTICLE_STATUSES),
            meta=_meta("status_valid", "status outside the article state machine"),
        ),
    ]
    return gx.ExpectationSuite(name=ARTICLE, expectations=expectations)


def article_source_suite(settings: Settings) -> gx.ExpectationSuite:
    """Per source: its share of failed fetches/extractions in the window.

    A failing row is a source: the gate quarantines that source's waiting articles with the
    reason and publishes the other sources' (issue 19; this used to reject the whole batch).
    """
    bound = settings.dq_max_source_failure_share
    return gx.ExpectationSuite(
        name=ARTICLE_SOURCE,
        expectations=[
            # failed_share is null below dq_source_min_articles: too few articles to judge.
            ExpectColumnValuesToBeBetween(
                column="failed_share",
                min_value=0.0,
                max_value=bound,
                meta=_meta(
                    "source_failure_share",
                    f"share of failed fetches/extractions above {bound:.0%}",
                ),
            )
        ],
    )


def claim_suite(settings: Settings) -> gx.ExpectationSuite:
    """Row-level checks of the claims of one batch of articles (issue 6's claim table).

    A failing claim is held back on its own (``claim.held``); its article still publishes.
    """
    del settings  # no claim thresholds yet; same signature as the other suites
    expectations: list[Expectation] = [
        ExpectColumnValuesToBeInSet(
            column="kind",
            value_set=list(CLAIM_KINDS),
            meta=_meta("kind_valid", f"kind not in {list(CLAIM_KINDS)}"),
        ),
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="value_high",
            column_B="value_low",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("value_range_ordered", "value_low greater than value_high"),
        ),
        ExpectColumnValuesToBeInSet(
            column="qualifier",
            value_set=list(QUALIFIERS),
            meta=_meta("qualifier_valid", "qualifier outside its vocabulary"),
        ),
        ExpectColumnValuesToBeInSet(
            column="rate_per",
            value_set=list(RATE_PERIODS),
            meta=_meta("rate_per_valid", "rate_per outside its vocabulary"),
        ),
        ExpectColumnValuesToBeBetween(
            column="start_offset",
            min_value=0,
            meta=_meta("span_start_in_text", "evidence span starts before the article text"),
        ),
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_offset",
            column_B="start_offset",
            meta=_meta("span_not_empty", "evidence span ends before it starts"),
        ),
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="article_length",
            column_B="end_offset",
            or_equal=True,
            meta=_meta("span_end_in_text", "evidence span ends after the article text"),
        ),
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="article_length",
            column_B="speaker_end",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("speaker_span_in_text", "speaker span ends after the article text"),
        ),
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="article_length",
            column_B="value_end",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("value_span_in_text", "value span ends after the article text"),
        ),
        # Derived: article.text[start_offset:end_offset]; spans must point at their words.
        ExpectColumnPairValuesToBeEqual(
            column_A="text",
            column_B="evidence_slice",
            meta=_meta("evidence_matches_text", "claim text differs from the article slice"),
        ),
        ExpectColumnValuesToNotBeNull(
            column="speaker",
            row_condition=Column("kind") == "quote",
            meta=_meta("quote_has_speaker", "quote without a speaker"),
        ),
    ]
    return gx.ExpectationSuite(name=CLAIM, expectations=expectations)


def feed_poll_suite(settings: Settings) -> gx.ExpectationSuite:
    """Checks of a run's feed polls: vocabulary and durations per row, at least one poll (the
    gate leaves that one out when the run's poll stage found no feed due)."""
    expectations: list[Expectation] = [
        ExpectColumnValuesToBeInSet(
            column="status",
            value_set=list(FEED_STATUSES),
            meta=_meta("status_valid", "poll status outside the feed vocabulary"),
        ),
        ExpectColumnValuesToBeBetween(
            column="duration_ms",
            min_value=0,
            meta=_meta("duration_non_negative", "negative poll duration"),
        ),
    ]
    if settings.dq_require_feed_polls:
        expectations.append(
            ExpectTableRowCountToBeBetween(
                min_value=1,
                meta=_meta(
                    "polls_recorded",
                    "the run recorded no feed polls though feeds were due (polling broke)",
                    level="batch",
                ),
            )
        )
    return gx.ExpectationSuite(name=FEED_POLL, expectations=expectations)


def build_suites(settings: Settings) -> dict[str, gx.ExpectationSuite]:
    """Every suite, by name, with the thresholds in force."""
    return {
        ARTICLE: article_suite(settings),
        ARTICLE_SOURCE: article_source_suite(settings),
        CLAIM: claim_suite(settings),
        FEED_POLL: feed_poll_suite(settings),
    }
