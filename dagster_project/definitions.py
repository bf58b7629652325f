"""The Dagster code location: every asset, check, job, schedule and sensor of the pipeline."""

from __future__ import annotations

import dagster as dg

from dagster_project import settings

settings.apply_offline_environment()

from dagster_project.defs import dbt, files, git, summary  # noqa: E402
from dagster_project.defs.resources import WarehouseResource  # noqa: E402
from dagster_project.defs.run_settings import RunSettingsResource  # noqa: E402

REFRESH_ALL = "refresh_all"

refresh_all = dg.define_asset_job(
    REFRESH_ALL,
    selection=dg.AssetSelection.all(),
    description="Load every configured source, build all dbt models and print the summary.",
    executor_def=dg.in_process_executor,
)

core = dg.Definitions(
    jobs=[refresh_all],
    resources={
        "warehouse": WarehouseResource(),
        "run_settings": RunSettingsResource(),
    },
)

defs = dg.Definitions.merge(core, files.defs, git.defs, dbt.defs, summary.defs)
