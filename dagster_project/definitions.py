"""The Dagster code location: every asset, check, job, schedule and sensor of the pipeline."""

from __future__ import annotations

import dagster as dg

from dagster_project import settings

settings.apply_offline_environment()

from dagster_project.defs import (  # noqa: E402
    contract,
    dashboard,
    dbt,
    files,
    freshness,
    git,
    github,
    gitlab,
    incidents,
    run_history,
    summary,
)
from dagster_project.defs.resources import LockingWarehouseResource  # noqa: E402
from dagster_project.defs.run_settings import RunSettingsResource  # noqa: E402

REFRESH_ALL = "refresh_all"
REFRESH_INCREMENTAL = "refresh_incremental"

refresh_all = dg.define_asset_job(
    REFRESH_ALL,
    selection=dg.AssetSelection.all(),
    description=(
        "Full refresh: load every configured source, rebuild every dbt model from scratch "
        "(incremental models included) and print the summary."
    ),
    executor_def=dg.in_process_executor,
    tags={dbt.FULL_REFRESH_TAG: "true", settings.WRITES_WAREHOUSE_TAG: "true"},
)

refresh_incremental = dg.define_asset_job(
    REFRESH_INCREMENTAL,
    selection=dg.AssetSelection.all(),
    description=(
        "Incremental refresh: sources fetch what changed since their cursors, and "
        "incremental dbt models add what is new."
    ),
    executor_def=dg.in_process_executor,
    tags={settings.WRITES_WAREHOUSE_TAG: "true"},
)

# Dagster's loader accepts one Definitions object at module scope, so the parts
# are merged in one expression.
_JOBS_AND_RESOURCES = dict(
    jobs=[refresh_all, refresh_incremental],
    resources={
        "warehouse": LockingWarehouseResource(),
        "run_settings": RunSettingsResource(),
    },
)

defs = dg.Definitions.merge(
    dg.Definitions(**_JOBS_AND_RESOURCES),
    files.defs,
    git.defs,
    github.defs,
    gitlab.defs,
    incidents.defs,
    dbt.defs,
    contract.defs,
    dashboard.defs,
    freshness.defs,
    run_history.defs,
    summary.defs,
)
