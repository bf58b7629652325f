"""The self-contained HTML dashboard: mart queries and page rendering.

``read_dashboard_data`` reads the marts of a built warehouse into plain,
JSON-ready values; ``render_dashboard`` embeds them into one HTML file whose
inline script draws the charts and applies the filters without network access.
"""

from dagster_project.dashboard.data import read_dashboard_data
from dagster_project.dashboard.metrics import METRICS, MetricSpec, headline_values
from dagster_project.dashboard.render import render_dashboard, write_dashboard

__all__ = [
    "METRICS",
    "MetricSpec",
    "headline_values",
    "read_dashboard_data",
    "render_dashboard",
    "write_dashboard",
]
