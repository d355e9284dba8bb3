"""Dedupe and story clustering (issue 5): exact hashes, MinHash LSH in the warehouse, stories,
syndication provenance.

Layers, cheapest first: content hash of the normalised text, normalised title per outlet within a
window, then MinHash near-duplicates found through the persistent LSH band index and verified by
estimated Jaccard. Verified links (plus looser same-event links inside a time window) form
stories; each article's duplicate_of, label and copied_from are recomputed from the whole story,
so the result does not depend on arrival order.
"""

from pipeline.dedupe.cluster import Assignment, Link, Member, StoryRow, components
from pipeline.dedupe.documents import (
    Document,
    DocumentResult,
    dedupe_documents,
    document_results,
    store_documents,
)
from pipeline.dedupe.features import DedupeConfig, DedupeInput, Features, features
from pipeline.dedupe.index import BatchResult, dedupe_batch, lock, prune_bands
from pipeline.dedupe.report import demo_report
from pipeline.dedupe.stage import StageCounts, run_dedupe

__all__ = [
    "Assignment",
    "BatchResult",
    "DedupeConfig",
    "DedupeInput",
    "Document",
    "DocumentResult",
    "Features",
    "Link",
    "Member",
    "StageCounts",
    "StoryRow",
    "components",
    "dedupe_batch",
    "dedupe_documents",
    "demo_report",
    "document_results",
    "features",
    "lock",
    "prune_bands",
    "run_dedupe",
    "store_documents",
]
