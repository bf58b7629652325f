"""Run the whole refresh in-process: used by the ``dora`` command and the tests.

One refresh is several Dagster runs, because a job cannot mix partitioned and
unpartitioned assets: first one run of ``extract_<kind>`` per configured
partition key, one after another, then ``refresh_all`` (or
``refresh_incremental``), which merges the landing files and builds the models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import dagster as dg

from dagster_project import locking, partitions, run_history, settings


@dataclass
class RefreshResult:
    """The runs of one refresh, in order; read like one ``ExecuteInProcessResult``."""

    runs: list[dg.ExecuteInProcessResult]

    @property
    def success(self) -> bool:
        return all(run.success for run in self.runs)

    @property
    def run_id(self) -> str:
        return self.runs[-1].run_id

    @property
    def all_events(self) -> list[dg.DagsterEvent]:
        return [event for run in self.runs for event in run.all_events]

    def get_asset_materialization_events(self) -> list[dg.DagsterEvent]:
        return [event for run in self.runs for event in run.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [check for run in self.runs for check in run.get_asset_check_evaluations()]

    def asset_materializations_for_node(self, node_name: str) -> list[dg.AssetMaterialization]:
        return [
            materialization
            for run in self.runs
            for materialization in run.asset_materializations_for_node(node_name)
        ]


def extract_partitions(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    run_settings: dict[str, Any],
    run_config: dict[str, Any],
) -> list[dg.ExecuteInProcessResult]:
    """Sync every kind's partition keys with the configuration, then run each key's extraction.

    Raises ConfigError naming the invalid field of an invalid source section.
    """
    from dagster_project.defs.run_settings import RunSettingsResource

    config = RunSettingsResource(**run_settings).load()
    results = []
    for change in partitions.sync_keys(instance, config):
        job = defs.resolve_job_def(change.source.job_name)
        for key in change.keys:
            results.append(
                job.execute_in_process(
                    run_config=run_config,
                    instance=instance,
                    partition_key=key,
                    raise_on_error=False,
                    tags=run_history.process_tags(),
                )
            )
    return results


def run_refresh_job(
    warehouse_path: str,
    run_settings: dict[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "WARNING",
    incremental: bool = False,
) -> RefreshResult:
    """Extract every partition, then execute ``refresh_all`` (or ``refresh_incremental``).

    When an extraction run fails, the refresh job is not started, so the
    warehouse keeps its previous rows and models, and the result is not
    successful. Holds the warehouse's refresh lock for the whole refresh;
    raises ``locking.WarehouseLockedError`` when another refresh of the file
    is running.
    """
    settings.apply_offline_environment()
    os.environ[settings.WAREHOUSE_ENV] = warehouse_path
    from dagster_project.definitions import REFRESH_ALL, REFRESH_INCREMENTAL, defs

    job = defs.resolve_job_def(REFRESH_INCREMENTAL if incremental else REFRESH_ALL)
    run_settings = dict(run_settings or {})
    run_config = {
        "resources": {
            "warehouse": {"config": {"path": warehouse_path}},
            "run_settings": {"config": run_settings},
            "landing_files": {"config": {"warehouse_path": warehouse_path}},
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
        run_history.fail_orphaned_runs(instance)
        runs = extract_partitions(defs, instance, run_settings, run_config)
        if all(run.success for run in runs):
            runs.append(
                job.execute_in_process(
                    run_config=run_config,
                    instance=instance,
                    raise_on_error=False,
                    tags=run_history.process_tags(),
                )
            )
    run_history.prune_run_history(instance, keep)
    return RefreshResult(runs)
