"""Loaded once per Celery worker at start-up (see :mod:`pipeline.adapters.celery`): what the task
bodies would otherwise load in every task process. Importing this module does the work.

A failure here is reported and the worker starts all the same: the task that needs the missing
piece then fails with the real error in its own log, where an operator looks.
"""

from __future__ import annotations

import sys
import time


def preload() -> float:
    """Import the pipeline's heavy libraries and load the configured spaCy models; seconds."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (the gate: ~10 s to import)
    import trafilatura  # noqa: F401

    import pipeline.quality  # noqa: F401
    from pipeline.config import get_settings
    from pipeline.nlp.loading import get_nlp

    settings = get_settings()
    for model in dict.fromkeys([settings.spacy_model, *settings.nlp_models.values()]):
        get_nlp(model)
    return time.perf_counter() - started


try:
    SECONDS: float | None = preload()
    print(f"mediamon preload: libraries and models loaded in {SECONDS:.1f} s", file=sys.stderr)
except Exception as exc:  # noqa: BLE001 - a worker without the preload still works
    SECONDS = None
    print(f"mediamon preload failed, tasks will load on their own: {exc!r}", file=sys.stderr)
