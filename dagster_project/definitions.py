"""The Dagster code location: every asset, check, job, schedule and sensor of the pipeline."""

from __future__ import annotations

import dagster as dg

from dagster_project import settings

settings.apply_offline_environment()

from dagster_project.defs import (  # noqa: E402
    contract,
    dashboard,
    dbt,
    extraction,
    files,
    freshness,
    git,
    github,
    gitlab,
    incidents,
    run_history,
    summary,
)
from dagster_project.defs.landing import LandingResource  # noqa: E402
from dagster_project.defs.resources import LockingWarehouseResource  # noqa: E402
from dagster_project.defs.run_settings import RunSettingsResource  # noqa: E402

REFRESH_ALL = "refresh_all"
REFRESH_INCREMENTAL = "refresh_incremental"

# A job cannot mix partitioned and unpartitioned assets, so the refresh jobs
# take everything but the partitioned extraction assets: their raw tables
# come from merging the landing files that the extract_<kind> jobs wrote.
UNPARTITIONED = dg.AssetSelection.all() - dg.AssetSelection.key_prefixes("landing")

refresh_all = dg.define_asset_job(
    REFRESH_ALL,
    selection=UNPARTITIONED,
    description=(
        "Full refresh: load the file source, merge the landing files of the git and API "
        "sources, rebuild every dbt model from scratch "
        "(incremental models included) and print the summary."
    ),
    executor_def=dg.in_process_executor,
    tags={dbt.FULL_REFRESH_TAG: "true", settings.WRITES_WAREHOUSE_TAG: "true"},
)

refresh_incremental = dg.define_asset_job(
    REFRESH_INCREMENTAL,
    selection=UNPARTITIONED,
    description=(
        "Incremental refresh: the file source loads what changed, the landing files of "
        "the git and API sources are merged, and incremental dbt models add what is new."
    ),
    executor_def=dg.in_process_executor,
    tags={settings.WRITES_WAREHOUSE_TAG: "true"},
)

# Dagster's loader accepts one Definitions object at module scope, so the parts
# are merged in one expression.
_JOBS_AND_RESOURCES = dict(
    jobs=[refresh_all, refresh_incremental, *extraction.EXTRACTION_JOBS],
    sensors=[extraction.extract_sources_sensor, *extraction.merge_sensors(refresh_incremental)],
    resources={
        "warehouse": LockingWarehouseResource(),
        "run_settings": RunSettingsResource(),
        "landing_files": LandingResource(),
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
