"""After each successful run started by the daemon or the UI, tidy the run history.

The sensor marks orphaned in-process runs as failed, then prunes old runs.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.run_history import fail_orphaned_runs, prune_run_history, runs_to_keep


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="prune_run_history_sensor",
    description=(
        "After each successful run, mark as failed the in-process runs of this host "
        "whose process is gone, then delete the finished runs beyond the newest "
        "DORA_KEEP_RUNS (default 50) with their event logs and captured output."
    ),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def prune_run_history_sensor(context: dg.RunStatusSensorContext) -> None:
    orphans = fail_orphaned_runs(context.instance)
    if orphans:
        context.log.warning(
            f"marked {len(orphans)} runs as failed because their process is gone: "
            + ", ".join(orphans)
        )
    removed = prune_run_history(context.instance, runs_to_keep())
    if removed:
        context.log.info(f"deleted {removed} old runs from the run history")


defs = dg.Definitions(sensors=[prune_run_history_sensor])
