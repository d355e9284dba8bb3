"""Dedupe and story clustering (issue 5): exact hashes, MinHash LSH in the warehouse, stories,
syndication provenance.

Layers, cheapest first: content hash of the normalised text, normalised title per outlet within a
window (only with content support, and never under a headline the outlet uses for unrelated
articles), then MinHash near-duplicates found through the persistent LSH band index and verified
by estimated Jaccard. Text is compared in every script (NFKC, case folding, Unicode words;
character n-grams where words are not separated). Strong links (exact, near, title) form and
merge stories; a looser same-event link inside a time window only lets an article join the story
it matches best. Each article's duplicate_of, label and copied_from are recomputed from the whole
story, so the result does not depend on arrival order.
"""

from pipeline.dedupe.cluster import (
    Assignment,
    Link,
    Member,
    StoryRow,
    components,
    split_stories,
)
from pipeline.dedupe.documents import (
    Document,
    DocumentResult,
    dedupe_documents,
    document_results,
    store_documents,
)
from pipeline.dedupe.features import DedupeConfig, DedupeInput, Features, features
from pipeline.dedupe.index import (
    BatchResult,
    dedupe_batch,
    lock,
    prune_bands,
    refresh_story_counts,
)
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
    "refresh_story_counts",
    "run_dedupe",
    "split_stories",
    "store_documents",
]
