"""Celery worker settings for the CeleryExecutor, named by ``[celery] celery_config_options``
(``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=pipeline.adapters.celery.CELERY_CONFIG``).

Airflow's own settings, plus one module each worker imports at start-up:
:mod:`pipeline.adapters.preload`. Celery imports it in the worker's main process before it forks
its pool, and Airflow forks each task process from a pool process, so every task starts with the
heavy libraries and the spaCy model already in memory instead of loading them again (Great
Expectations alone took ~10 s of each gate task). Publishers (the scheduler) never import it.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

PRELOAD_MODULE = "pipeline.adapters.preload"

CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), PRELOAD_MODULE),
}
