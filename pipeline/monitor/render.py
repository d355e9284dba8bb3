"""Rendering the Media Monitor pages: Jinja2 templates with autoescaping on, and the filters
they share (times, numbers, shortened ids, links that keep the other parameters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from pipeline.monitor.listing import as_utc

TEMPLATES = Path(__file__).parent.parent / "templates"


def when(value: Any) -> Markup:
    """A UTC time as ``<time>``: minutes in UTC on the server, the viewer's zone in the browser."""
    if value is None or value == "":
        return Markup('<span class="muted">–</span>')
    moment = value if isinstance(value, datetime) else _parse(str(value))
    if moment is None:
        return escape(str(value))
    moment = as_utc(moment).replace(microsecond=0)
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M UTC")
    )


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def num(value: Any) -> str:
    """Numbers with thousands separators; whole floats (failure counts) without ``.0``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(value: Any) -> str:
    """A share (0..1) as a percentage."""
    if value is None:
        return "–"
    return f"{float(value) * 100:.0f} %"


def ratio_x(value: Any) -> str:
    """A ratio between two figures (``2.5×``)."""
    return "–" if value is None else f"{float(value):.2f}×"


def shortid(value: Any, keep: int = 10) -> Markup:
    """A long identifier cut to ``keep`` characters, the whole value on hover and in copies."""
    text = str(value)
    if len(text) <= keep:
        return Markup('<span class="id">{}</span>').format(text)
    return Markup('<span class="id" title="{0}" data-full="{0}">{1}…</span>').format(
        text, text[:keep]
    )


def status_class(value: Any) -> str:
    """CSS class for a status word: green, amber or red."""
    text = str(value or "")
    if text in ("ok", "not_modified", "success", "passed", "published", "deferred", "agrees"):
        return "ok"
    if "fail" in text or "error" in text or text in ("blocked", "rejected", "contradicts"):
        return "bad"
    if text in ("quarantined", "running", "diverges", "warning"):
        return "warn"
    return ""


def with_params(query: Mapping[str, str], changes: Mapping[str, Any]) -> str:
    """The query string ``query`` with ``changes`` applied (None removes a parameter)."""
    merged = {k: v for k, v in query.items() if v not in (None, "")}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return urlencode(merged)


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    when=when,
    num=num,
    ratio=ratio,
    ratio_x=ratio_x,
    shortid=shortid,
    status_class=status_class,
    with_params=with_params,
)


def render_page(
    tab: str,
    template: str,
    data: Mapping[str, Any],
    *,
    root: str,
    query: Mapping[str, str],
    json_url: str | None = None,
    **extra: Any,
) -> str:
    """One Media Monitor page as HTML: ``template`` (under templates/monitor/) with ``data``."""
    return _env.get_template(f"monitor/{template}").render(
        data=data, tab=tab, root=root.rstrip("/"), query=dict(query), json_url=json_url, **extra
    )
