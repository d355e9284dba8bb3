"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, nothing to vendor.

Each function returns plain data (bars with their coordinates and labels) that the template
turns into SVG elements, so the JSON twin carries the same numbers the chart shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

WIDTH = 960
HEIGHT = 180
# Colours by article status group: published, in progress, failed or held.
STATUS_COLOURS = {
    "published": "#1a7f37",
    "quarantined": "#bf8700",
    "failed": "#b42318",
    "pending": "#6e7781",
}


def status_group(status: str) -> str:
    """The chart's colour group for an article status."""
    if status == "published":
        return "published"
    if status == "quarantined":
        return "quarantined"
    if status.endswith("failed") or status in ("blocked", "abandoned"):
        return "failed"
    return "pending"


def articles_per_hour(
    counts: Sequence[tuple[datetime, str, int]], start: datetime, hours: int
) -> dict[str, Any]:
    """Stacked bars of articles discovered per hour, by status group, over ``hours`` from start."""
    buckets: list[dict[str, int]] = [{} for _ in range(hours)]
    for hour, status, n in counts:
        i = int((hour - start).total_seconds() // 3600)
        if 0 <= i < hours:
            group = status_group(status)
            buckets[i][group] = buckets[i].get(group, 0) + n
    peak = max((sum(b.values()) for b in buckets), default=0) or 1
    step = WIDTH / hours
    bars = []
    for i, bucket in enumerate(buckets):
        y = float(HEIGHT)
        for group in STATUS_COLOURS:
            n = bucket.get(group, 0)
            if not n:
                continue
            h = n / peak * (HEIGHT - 20)
            y -= h
            bars.append(
                {
                    "x": round(i * step + 1, 1),
                    "y": round(y, 1),
                    "w": round(step - 2, 1),
                    "h": round(h, 1),
                    "colour": STATUS_COLOURS[group],
                    "label": f"{(start + timedelta(hours=i)).isoformat()} {group}: {n}",
                }
            )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "peak": peak,
        "start": start.isoformat(),
        "hours": hours,
        "totals": {g: sum(b.get(g, 0) for b in buckets) for g in STATUS_COLOURS},
        "legend": STATUS_COLOURS,
    }


def poll_history(polls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One bar per poll, oldest first: height = new entries, red when the poll failed."""
    peak = max((p.get("entries_new") or 0 for p in polls), default=0) or 1
    step = WIDTH / max(len(polls), 1)
    bars = []
    for i, p in enumerate(polls):
        ok = p.get("status") in ("ok", "not_modified", "deferred")
        new = p.get("entries_new") or 0
        # A failed or empty poll still gets a sliver, so every poll is visible.
        h = max(new / peak * (HEIGHT - 20), 4)
        bars.append(
            {
                "x": round(i * step + 1, 1),
                "y": round(HEIGHT - h, 1),
                "w": round(max(step - 2, 1), 1),
                "h": round(h, 1),
                "colour": "#1a7f37" if ok else "#b42318",
                "label": f"{p.get('started_at')} {p.get('status')}: {new} new",
            }
        )
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "peak": peak, "polls": len(polls)}
