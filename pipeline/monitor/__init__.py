"""The Media Monitor: the analyst's and operator's screens inside the Airflow UI.

Pure queries and rendering; ``plugins/media_monitor.py`` only wires them to routes and checks
who may do what. ``pages`` holds one function per screen (each returns plain data, served as
HTML and as its JSON twin), ``listing`` the paginated, sortable, filterable tables they share,
``charts`` the server-drawn SVG charts, ``render`` the Jinja2 templates.
"""

from pipeline.monitor.snapshot import MonitorSnapshot, render, snapshot

__all__ = ["MonitorSnapshot", "render", "snapshot"]
