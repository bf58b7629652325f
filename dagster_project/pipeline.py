"""Run the refresh job in-process: used by the ``dora`` command and the tests."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from dagster_project import locking, run_history, settings


def run_refresh_job(
    warehouse_path: str,
    run_settings: dict[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "WARNING",
    incremental: bool = False,
) -> dg.ExecuteInProcessResult:
    """Execute ``refresh_all`` (or ``refresh_incremental``) on one warehouse file.

    Holds the warehouse's refresh lock for the whole run; raises
    ``locking.WarehouseLockedError`` when another refresh of the file is running.
    """
    settings.apply_offline_environment()
    os.environ[settings.WAREHOUSE_ENV] = warehouse_path
    from dagster_project.definitions import REFRESH_ALL, REFRESH_INCREMENTAL, defs

    job = defs.resolve_job_def(REFRESH_INCREMENTAL if incremental else REFRESH_ALL)
    run_config = {
        "resources": {
            "warehouse": {"config": {"path": warehouse_path}},
            "run_settings": {"config": dict(run_settings or {})},
        },
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    if instance is None:
        instance = (
            dg.DagsterInstance.get()
            if os.environ.get(settings.DAGSTER_HOME_ENV)
            else dg.DagsterInstance.ephemeral()
        )
    keep = run_history.runs_to_keep()
    with locking.warehouse_lock(warehouse_path):
        result = job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )
    run_history.prune_run_history(instance, keep)
    return result
