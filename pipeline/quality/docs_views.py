"""GX Data Docs page views whose Jinja templates compile once, not on every gate run.

GX builds a new Jinja ``Environment`` for each view, and every gate task runs in a fresh
process, so every run re-parsed and re-compiled the same ~50 templates: about 0.4 s, most of
the fixed cost of gating a small batch. Jinja's own bytecode cache (a public Jinja feature,
keyed by template name and a checksum of its source) keeps the compiled code on disk under
the Mediamon home, so a GX upgrade that changes a template simply misses the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import FileSystemBytecodeCache


def _with_cache(view: Any, cache_dir: str | None) -> None:
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        view.env.bytecode_cache = FileSystemBytecodeCache(cache_dir)


class CachedPageView(DefaultJinjaPageView):
    """GX's page view (suites and validation results) with compiled templates cached."""

    def __init__(self, cache_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _with_cache(self, cache_dir)


class CachedIndexPageView(DefaultJinjaIndexPageView):
    """GX's Data Docs index view with compiled templates cached."""

    def __init__(self, cache_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _with_cache(self, cache_dir)


def site_views(cache_dir: Path) -> dict[str, Any]:
    """The ``site_index_builder`` / ``site_section_builders`` overrides for a SiteBuilder."""

    def view(cls: type) -> dict[str, str]:
        return {"module_name": __name__, "class_name": cls.__name__, "cache_dir": str(cache_dir)}

    return {
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "view": view(CachedIndexPageView),
        },
        "site_section_builders": {
            name: {"view": view(CachedPageView)}
            for name in ("expectations", "validations", "profiling")
        },
    }
