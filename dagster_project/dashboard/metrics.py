"""The six dashboard metrics: where each is read from, its unit and its target.

Daily values come from ``dora_daily`` and trailing-window values from
``dora_trailing_metrics``. A value is stored in base units (a count per day,
seconds, a 0-1 fraction) and multiplied by ``scale`` for display. Targets come
from the outcome contract when one is loaded; ``default_target`` is the target
of the default contract, shown when no contract is in the warehouse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import duckdb

ALL_SERVICES = "__all__"
HEADLINE_WINDOW_DAYS = 30


@dataclass(frozen=True)
class MetricSpec:
    """One dashboard metric and the mart columns it is read from."""

    key: str
    title: str
    unit: str
    daily_column: str
    trailing_column: str
    scale: float
    metadata_scale: float
    contract_metric: str | None
    level_metric: str | None
    operator: str | None
    default_target: float | None
    description: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        key="deployments_per_day",
        title="Deployment frequency",
        unit="deploys/day",
        daily_column="deployment_count",
        trailing_column="deployment_frequency_per_day",
        scale=1.0,
        metadata_scale=1.0,
        contract_metric="deployment_frequency",
        level_metric="deployment_frequency",
        operator=">=",
        default_target=8.0,
        description="Counted production deployments per local day.",
    ),
    MetricSpec(
        key="median_pr_lead_time_hours",
        title="Lead time for changes",
        unit="hours",
        daily_column="median_pr_lead_time_seconds",
        trailing_column="median_pr_lead_time_seconds",
        scale=1 / 3600,
        metadata_scale=1 / 3600,
        contract_metric="lead_time",
        level_metric="lead_time_for_changes",
        operator="<=",
        default_target=2.5,
        description="Median pull-request lead time, from opened to deployed.",
    ),
    MetricSpec(
        key="change_failure_rate",
        title="Change failure rate",
        unit="%",
        daily_column="change_failure_rate",
        trailing_column="change_failure_rate",
        scale=100.0,
        metadata_scale=1.0,
        contract_metric="change_failure_rate",
        level_metric="change_failure_rate",
        operator="<=",
        default_target=2.0,
        description="Failed deployments as a share of the deployments that ship new commits.",
    ),
    MetricSpec(
        key="mttr_minutes",
        title="Time to restore service",
        unit="minutes",
        daily_column="mean_restore_seconds",
        trailing_column="mean_restore_seconds",
        scale=1 / 60,
        metadata_scale=1 / 60,
        contract_metric="time_to_restore",
        level_metric="time_to_restore",
        operator="<=",
        default_target=5.0,
        description="Mean restore time of the incidents alerted that day; open ones count to as_of.",
    ),
    MetricSpec(
        key="failed_deployment_recovery_minutes",
        title="Failed deployment recovery time",
        unit="minutes",
        daily_column="mean_failed_deployment_recovery_seconds",
        trailing_column="mean_failed_deployment_recovery_seconds",
        scale=1 / 60,
        metadata_scale=1 / 60,
        contract_metric=None,
        level_metric="failed_deployment_recovery_time",
        operator=None,
        default_target=None,
        description="Mean time from a failed deployment to the deployment or resolution that restored service.",
    ),
    MetricSpec(
        key="rework_rate",
        title="Rework rate",
        unit="%",
        daily_column="rework_rate",
        trailing_column="rework_rate",
        scale=100.0,
        metadata_scale=1.0,
        contract_metric=None,
        level_metric=None,
        operator=None,
        default_target=None,
        description="Unplanned deployments (rollbacks and hotfixes) as a share of counted deployments.",
    ),
)


def headline_values(
    con: duckdb.DuckDBPyConnection, window_days: int = HEADLINE_WINDOW_DAYS
) -> dict[str, dict[str, float | None]]:
    """Return ``{service: {metric key: value}}`` of the latest trailing window.

    Values are in the units of the Dagster metadata keys: deployments per day,
    hours, minutes, and rates as 0-1 fractions. The all-services slice is under
    ``__all__``. A metric with no data in the window is ``None``.
    """
    columns = ", ".join(spec.trailing_column for spec in METRICS)
    rows = con.execute(
        f"""
        select service, {columns}
        from dora_trailing_metrics
        where window_days = ?
          and as_of_date = (select max(as_of_date) from dora_trailing_metrics)
        order by service
        """,
        [window_days],
    ).fetchall()
    values: dict[str, dict[str, float | None]] = {}
    for service, *raw in rows:
        values[service] = {
            spec.key: None if value is None else float(value) * spec.metadata_scale
            for spec, value in zip(METRICS, raw, strict=True)
        }
    return values
