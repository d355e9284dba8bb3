"""Per-article dedupe features and the settings that shape them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.config import Settings
from pipeline.dedupe.cluster import Member, Thresholds
from pipeline.dedupe.minhash import LshParams, Signature, band_hashes, signature
from pipeline.dedupe.text import find_credit, shingles, title_hash


@dataclass(frozen=True)
class DedupeConfig:
    """Dedupe settings in one typed record (see pipeline/config.py for the reasons)."""

    lsh: LshParams
    story_lsh: LshParams
    shingle_words: int
    near_threshold: float
    story_threshold: float
    story_window: timedelta
    title_window: timedelta
    retention: timedelta
    story_band_keep: timedelta
    wire_overlap: float
    rewrite_overlap: float
    agencies: tuple[str, ...]
    # A same-outlet headline match within the title window is a re-publication only when the
    # texts agree too: at least this estimated Jaccard of their shingles. Unrelated articles under
    # one generic headline ("Live updates", "Morning briefing") share 0.00-0.05 of their 2-grams;
    # an outlet's update of its own article keeps most of its text (0.4 and up).
    title_min_similarity: float = 0.2
    # A headline one outlet has put on this many mutually unrelated articles (no pair of them as
    # similar as two reports of one event, story_threshold) is a column name or a live-blog
    # label, not evidence: title links under it are judged by their text alone. A column's fixed
    # opening and closing can give unrelated days 0.1-0.25 of shared 2-grams, enough for the
    # content check above. Counted over every stored article of the outlet, so the warehouse
    # learns its outlets' recurring headlines from what it has seen.
    generic_title_articles: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> DedupeConfig:
        """Read the ``dedupe_*`` settings."""
        return cls(
            lsh=LshParams(num_perm=settings.dedupe_num_perm, bands=settings.dedupe_bands),
            story_lsh=LshParams(
                num_perm=settings.dedupe_num_perm, bands=settings.dedupe_story_bands
            ),
            shingle_words=settings.dedupe_shingle_words,
            near_threshold=settings.dedupe_near_threshold,
            story_threshold=settings.dedupe_story_threshold,
            story_window=timedelta(days=settings.dedupe_story_window_days),
            title_window=timedelta(days=settings.dedupe_title_window_days),
            retention=timedelta(days=settings.dedupe_retention_days),
            story_band_keep=timedelta(days=settings.dedupe_story_band_days),
            wire_overlap=settings.dedupe_wire_overlap,
            rewrite_overlap=settings.dedupe_rewrite_overlap,
            agencies=tuple(settings.dedupe_agencies),
        )

    def __post_init__(self) -> None:
        # Story bands pruned before the story window ends would lose same-event links between
        # articles that are both on time.
        if self.story_band_keep < self.story_window + timedelta(days=1):
            raise ValueError(
                "dedupe_story_band_days must be at least dedupe_story_window_days + 1, got "
                f"{self.story_band_keep.days} < {self.story_window.days + 1}"
            )
        # lsh_band folds the band number into the top byte of its key.
        if self.bands_per_article > 256:
            raise ValueError(f"at most 256 bands in all, got {self.bands_per_article}")

    @property
    def bands_per_article(self) -> int:
        """Rows each article adds to lsh_band: near-duplicate bands plus story bands."""
        return self.lsh.bands + self.story_lsh.bands

    @property
    def thresholds(self) -> Thresholds:
        """What story assignment needs."""
        return Thresholds(
            near=self.near_threshold,
            wire_overlap=self.wire_overlap,
            rewrite_overlap=self.rewrite_overlap,
            title_window=self.title_window,
        )


@dataclass(frozen=True)
class DedupeInput:
    """One extracted article to dedupe."""

    article_id: str
    source_id: int
    outlet: str | None
    title: str | None
    text: str
    seen_at: datetime
    content_hash: str | None = None


@dataclass(frozen=True)
class Features:
    """What is stored and compared for one article."""

    member: Member
    shingle_count: int
    signature: Signature
    # Band hashes of the global near-duplicate index, then of the time-bucketed story index.
    near_bands: list[int]
    story_bands: list[int]


def features(item: DedupeInput, cfg: DedupeConfig) -> Features:
    """Hashes, MinHash signature, band hashes and agency credit of one article."""
    if item.content_hash is None:
        # Imported here: pipeline.extract loads trafilatura (seconds), and stored articles
        # already carry their hash.
        from pipeline.extract import content_hash

        text_hash = content_hash(item.text)
    else:
        text_hash = item.content_hash
    grams = shingles(item.text, cfg.shingle_words)
    sig = signature(grams, cfg.lsh.num_perm)
    credit = find_credit(item.text, cfg.agencies)
    member = Member(
        article_id=item.article_id,
        source_id=item.source_id,
        seen_at=item.seen_at,
        content_hash=text_hash,
        title_hash=title_hash(item.title, outlet=item.outlet),
        agency=credit.agency if credit else None,
    )
    return Features(
        member, len(grams), sig, band_hashes(sig, cfg.lsh), band_hashes(sig, cfg.story_lsh)
    )
