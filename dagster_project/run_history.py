"""Keep the Dagster run history of a project at a bounded size.

Every run stores its event log (a few MiB for a refresh) and its captured
output under ``$DAGSTER_HOME``. An hourly schedule would grow that by about
100 MiB a day, so after each refresh the oldest finished runs beyond
``DORA_KEEP_RUNS`` (default 50) are deleted with their events and logs.
Runs that are queued or still going are never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from dagster_project.config import ConfigError

KEEP_RUNS_ENV = "DORA_KEEP_RUNS"
DEFAULT_KEEP_RUNS = 50
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


class RunHistoryError(ConfigError):
    """Raised for a ``DORA_KEEP_RUNS`` value that is not a whole number of at least 1."""


def runs_to_keep() -> int:
    """Return ``$DORA_KEEP_RUNS`` or the default; reject a value that is not 1 or more."""
    text = os.environ.get(KEEP_RUNS_ENV, "").strip()
    if not text:
        return DEFAULT_KEEP_RUNS
    if not text.isdigit() or int(text) < 1:
        raise RunHistoryError(
            f"{KEEP_RUNS_ENV}={text!r} is not a whole number of at least 1; "
            f"set it to how many finished runs to keep (default {DEFAULT_KEEP_RUNS})"
        )
    return int(text)


def prune_run_history(instance: dg.DagsterInstance, keep: int | None = None) -> int:
    """Delete the finished runs older than the newest ``keep``; return how many went."""
    keep = runs_to_keep() if keep is None else keep
    finished = instance.get_runs(filters=dg.RunsFilter(statuses=FINISHED))
    old_runs = finished[keep:]
    for run in old_runs:
        _delete_run(instance, run.run_id)
    return len(old_runs)


def _delete_run(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.delete_run(run_id)
    instance.compute_log_manager.delete_logs(prefix=[run_id])
    shard = getattr(instance.event_log_storage, "path_for_shard", None)
    if shard is not None:
        # The SQLite event storage keeps one file per run; deleting its rows
        # leaves the file at full size.
        Path(shard(run_id)).unlink(missing_ok=True)
