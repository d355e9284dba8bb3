"""Airflow plugin: the Media Monitor view (a FastAPI app shown as an external view in the UI).

Wiring only; queries and rendering live in ``pipeline.monitor``. Routes require an authenticated
Airflow user: plugin FastAPI apps are not protected by Airflow unless they ask to be. Every route
of the app is one of ours, behind that login; FastAPI's own documentation routes are turned off.
"""

from __future__ import annotations

import asyncio
from typing import Any

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI(
    title="Mediamon: Media Monitor",
    dependencies=[Depends(requires_authenticated())],
    # FastAPI serves /docs, /redoc and /openapi.json as plain routes that the app-wide
    # dependencies above do not cover, so they would answer anyone; two routes need no API
    # browser, so they are not served at all.
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


def _snapshot() -> Any:
    # Imported per request so the api-server starts without touching the warehouse.
    from pipeline.monitor import snapshot
    from pipeline.warehouse import get_engine

    return snapshot(get_engine())


@app.get("/", response_class=HTMLResponse)
async def monitor_page() -> str:
    """The Media Monitor page."""
    from pipeline.monitor import render

    # The warehouse calls are synchronous; keep them off the api-server's event loop.
    return render(await asyncio.to_thread(_snapshot))


@app.get("/api/snapshot")
async def monitor_snapshot() -> dict[str, Any]:
    """The same data as JSON."""
    snap = await asyncio.to_thread(_snapshot)
    data: dict[str, Any] = snap.as_dict()
    return data


class MediaMonitorPlugin(AirflowPlugin):
    """Registers the Media Monitor app and its entry in the Airflow navigation."""

    name = "media_monitor"
    # AirflowPlugin reads these class attributes as declared in its own base class.
    fastapi_apps = [{"app": app, "url_prefix": "/media-monitor", "name": "Media Monitor"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Media Monitor",
            "href": "media-monitor/",
            "destination": "nav",
            "url_route": "media-monitor",
        }
    ]
