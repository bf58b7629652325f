"""Prune the run history after each successful run started by the daemon or the UI."""

from __future__ import annotations

import dagster as dg

from dagster_project.run_history import prune_run_history, runs_to_keep


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="prune_run_history_sensor",
    description=(
        "After each successful run, delete the finished runs beyond the newest "
        "DORA_KEEP_RUNS (default 50) with their event logs and captured output."
    ),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def prune_run_history_sensor(context: dg.RunStatusSensorContext) -> None:
    removed = prune_run_history(context.instance, runs_to_keep())
    if removed:
        context.log.info(f"deleted {removed} old runs from the run history")


defs = dg.Definitions(sensors=[prune_run_history_sensor])
