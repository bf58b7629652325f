"""Reporting assets that run after the marts: headline metadata, dashboard, published copy.

- ``mart_metrics``: the trailing 30-day value of each metric, overall and per
  service, as numeric metadata, so the Dagster UI plots each one over the
  materialisations; plus the contract statuses as a Markdown table.
- ``dashboard``: one self-contained HTML file (default ``dashboard.html``
  beside the warehouse), with the same metadata.
- ``published_marts``: a read-only copy of the marts for BI tools, as a DuckDB
  file and Parquet files, swapped in atomically (see ``dagster_project.publish``).

The module has no ``from __future__ import annotations``: Dagster reads the
``context`` annotation at definition time and rejects it as a string.
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from dagster_project import publish
from dagster_project.dashboard import METRICS, headline_values, read_dashboard_data
from dagster_project.dashboard.data import read_contract_status
from dagster_project.dashboard.metrics import ALL_SERVICES
from dagster_project.dashboard.render import write_dashboard
from dagster_project.defs.dbt import dbt_after_containment
from dagster_project.defs.freshness import FRESHNESS_KEY
from dagster_project.defs.resources import WarehouseResource

DASHBOARD_PATH_ENV = "DORA_DASHBOARD_PATH"

# Every mart the dbt project defines, contract marts included when the project has them.
MART_KEYS = sorted(
    (key for key in dbt_after_containment.keys if publish.is_mart_table(key.path[-1])),
    key=lambda key: key.to_user_string(),
)


class DashboardConfig(dg.Config):
    """Output path of the dashboard file; empty means the default."""

    output_path: str = ""


class PublishConfig(dg.Config):
    """Output folder of the published copy of the marts; empty means the default."""

    published_dir: str = ""


def dashboard_path(config: DashboardConfig, warehouse_path: str) -> Path:
    """Return the configured path, ``$DORA_DASHBOARD_PATH``, or dashboard.html beside the warehouse."""
    configured = config.output_path or os.environ.get(DASHBOARD_PATH_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(warehouse_path).resolve().parent / "dashboard.html"


def headline_metadata(values: dict[str, dict[str, float | None]]) -> dict[str, dg.MetadataValue]:
    """Return one float per metric and slice: ``deployments_per_day`` overall,
    ``deployments_per_day.<service>`` per service. Metrics without data are left out."""
    metadata: dict[str, dg.MetadataValue] = {}
    for service in sorted(values, key=lambda name: (name != ALL_SERVICES, name)):
        for spec in METRICS:
            value = values[service].get(spec.key)
            if value is None:
                continue
            key = spec.key if service == ALL_SERVICES else f"{spec.key}.{service}"
            metadata[key] = dg.MetadataValue.float(round(value, 6))
    return metadata


def _format_value(value: Any) -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def contract_markdown(contract: dict[str, Any]) -> str | None:
    """Return the latest status of every contract outcome as a Markdown table, or None."""
    if not contract["present"]:
        return None
    lines = [
        "| contract | outcome | status | as of | headline value | target | baseline date |",
        "|---|---|---|---|---|---|---|",
    ]
    for outcome in contract["outcomes"]:
        target = f"{outcome['operator']} {_format_value(outcome['target_value'])} {outcome['unit']}"
        cells = [
            outcome["contract_id"],
            outcome["outcome_id"],
            outcome["status"] or "no data",
            outcome["status_date"] or "",
            _format_value(outcome["headline_value"]),
            target,
            outcome["baseline_date"] or "",
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _report_metadata(data: dict[str, Any], con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    metadata: dict[str, Any] = headline_metadata(headline_values(con))
    markdown = contract_markdown(data["contract"])
    if markdown is not None:
        metadata["contract_status"] = dg.MetadataValue.md(markdown)
    else:
        metadata["contract_status"] = dg.MetadataValue.text(
            f"no contract: {data['contract']['reason']}"
        )
    return metadata


def _read_only(warehouse: WarehouseResource) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(warehouse.resolved_path(), read_only=True)


@dg.asset(
    deps=MART_KEYS,
    group_name="reports",
    kinds={"python", "duckdb"},
    description=(
        "Headline numbers of the trailing 30 days as numeric metadata, overall and per "
        "service (deployments_per_day, median_pr_lead_time_hours, change_failure_rate, "
        "mttr_minutes, failed_deployment_recovery_minutes, rework_rate; rates as 0-1 "
        "fractions), so the Dagster UI plots each over time; plus the contract statuses."
    ),
)
def mart_metrics(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with _read_only(warehouse) as con:
        data = {"contract": read_contract_status(con)}
        metadata = _report_metadata(data, con)
    context.log.info(f"Recorded {len(metadata) - 1} headline values as metadata")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[*MART_KEYS, FRESHNESS_KEY],
    group_name="reports",
    kinds={"html"},
    description=(
        "One self-contained HTML dashboard (dashboard.html beside the warehouse unless "
        "configured): daily trends of the six metrics with targets and trailing windows, "
        "contract statuses and checkpoints, per-service breakdowns, performance levels, "
        "open incidents and failed deployments; filters by service and date in the page."
    ),
)
def dashboard(
    context: dg.AssetExecutionContext, config: DashboardConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    path = dashboard_path(config, warehouse.resolved_path())
    with _read_only(warehouse) as con:
        data = read_dashboard_data(con)
        metadata = _report_metadata(data, con)
    written = write_dashboard(data, path)
    context.log.info(f"Wrote the dashboard to {written}")
    metadata["path"] = dg.MetadataValue.path(str(written))
    metadata["size_bytes"] = dg.MetadataValue.int(written.stat().st_size)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[*MART_KEYS, FRESHNESS_KEY],
    group_name="reports",
    kinds={"duckdb", "parquet"},
    description=(
        "A read-only copy of the mart tables for BI tools: published/dora_marts.duckdb and "
        "published/parquet/<table>/<table>.parquet beside the warehouse unless configured, "
        "each swapped in atomically so readers never hit the warehouse's write lock."
    ),
)
def published_marts(
    context: dg.AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    source = warehouse.resolved_path()
    folder = (
        Path(config.published_dir).expanduser().resolve()
        if config.published_dir
        else publish.default_published_dir(source)
    )
    result = publish.publish_marts(source, folder)
    context.log.info(
        f"Published {len(result.row_counts)} tables to {result.database_path} "
        f"and {result.parquet_path} (version {result.version})"
    )
    return dg.MaterializeResult(
        metadata={
            "database_path": dg.MetadataValue.path(str(result.database_path)),
            "parquet_path": dg.MetadataValue.path(str(result.parquet_path)),
            "version": dg.MetadataValue.text(result.version),
            "table_count": dg.MetadataValue.int(len(result.row_counts)),
            "row_counts": dg.MetadataValue.json(result.row_counts),
        }
    )


defs = dg.Definitions(assets=[mart_metrics, dashboard, published_marts])
