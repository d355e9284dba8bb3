"""NLP stage (issue 6): spaCy loading, entities, and claims with attribution and evidence."""

from pipeline.nlp.claims import ClaimExtractor, analyse_docs
from pipeline.nlp.loading import get_nlp, split_text
from pipeline.nlp.records import EXTRACTOR_VERSION, Analysis, Attribution, Claim, EntityCount
from pipeline.nlp.report import demo_report

__all__ = [
    "EXTRACTOR_VERSION",
    "Analysis",
    "Attribution",
    "Claim",
    "ClaimExtractor",
    "EntityCount",
    "analyse_docs",
    "demo_report",
    "get_nlp",
    "split_text",
]
