"""The Dagster run history: orphaned runs are failed, then old finished runs pruned."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from dagster_project import pipeline, settings
from dagster_project.defs.run_history import prune_run_history_sensor
from dagster_project.run_history import (
    KEEP_RUNS_ENV,
    RunHistoryError,
    fail_orphaned_runs,
    process_tags,
    prune_run_history,
    runs_to_keep,
)


@dg.op
def say_hello(context) -> None:
    print("hello from a captured step")
    context.log.info("hello")


@dg.job
def tiny_job() -> None:
    say_hello()


@pytest.fixture
def instance(tmp_path: Path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as test_instance:
        yield test_instance


def run_times(instance: dg.DagsterInstance, count: int) -> list[str]:
    return [tiny_job.execute_in_process(instance=instance).run_id for _ in range(count)]


def event_files(tmp_path: Path) -> set[str]:
    return {path.stem for path in tmp_path.rglob("*.db") if path.stem not in ("runs", "index")}


def test_prune_deletes_old_run_files(instance, tmp_path):
    run_ids = run_times(instance, 5)
    assert set(run_ids) <= event_files(tmp_path)

    assert prune_run_history(instance, keep=2) == 3

    kept = [run.run_id for run in instance.get_runs()]
    assert kept == run_ids[:-3:-1]
    for old in run_ids[:3]:
        assert instance.get_run_by_id(old) is None
        assert old not in event_files(tmp_path)
        assert not any(tmp_path.rglob(f"{old}*")), f"files of run {old} remain"
    assert prune_run_history(instance, keep=2) == 0


def test_prune_skips_unfinished_runs(instance):
    finished = run_times(instance, 2)
    queued = instance.create_run_for_job(tiny_job, run_id=None)

    assert prune_run_history(instance, keep=1) == 1
    remaining = {run.run_id for run in instance.get_runs()}
    assert remaining == {finished[1], queued.run_id}


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5"])
def test_keep_runs_rejects_invalid_values(monkeypatch, value):
    monkeypatch.setenv(KEEP_RUNS_ENV, value)
    with pytest.raises(RunHistoryError, match=KEEP_RUNS_ENV):
        runs_to_keep()


def test_keep_runs_default_and_env(monkeypatch):
    monkeypatch.delenv(KEEP_RUNS_ENV, raising=False)
    assert runs_to_keep() == 50
    monkeypatch.setenv(KEEP_RUNS_ENV, "7")
    assert runs_to_keep() == 7


def test_sensor_prunes_after_success(instance, monkeypatch):
    monkeypatch.setenv(KEEP_RUNS_ENV, "1")
    run_ids = run_times(instance, 3)
    newest = instance.get_run_by_id(run_ids[-1])
    success = next(
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(newest.run_id).records
        if record.event_log_entry.dagster_event
        and record.event_log_entry.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS
    )
    context = dg.build_run_status_sensor_context(
        sensor_name=prune_run_history_sensor.name,
        dagster_instance=instance,
        dagster_run=newest,
        dagster_event=success,
    )
    prune_run_history_sensor(context)
    assert [run.run_id for run in instance.get_runs()] == [run_ids[-1]]


KILLED_RUN_SCRIPT = """
import pathlib, sys, time
import dagster as dg
from dagster_project.run_history import process_tags

@dg.op
def wait_for_kill(context) -> None:
    pathlib.Path(sys.argv[1], "op-started").touch()
    time.sleep(600)

@dg.job
def killed_job() -> None:
    wait_for_kill()

with dg.instance_for_test(temp_dir=sys.argv[1]) as instance:
    killed_job.execute_in_process(instance=instance, tags=process_tags())
"""


def start_killed_run(tmp_path: Path) -> None:
    """Execute a job in a child process that is killed with SIGKILL mid-run."""
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    deadline = time.monotonic() + 120
    while not (tmp_path / "op-started").exists():
        assert child.poll() is None, f"the child process exited with {child.returncode}"
        assert time.monotonic() < deadline, "the child's op did not start within 120 s"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)


def test_killed_run_is_failed_then_pruned(instance, tmp_path):
    start_killed_run(tmp_path)
    [orphan] = instance.get_runs()
    assert orphan.status == dg.DagsterRunStatus.STARTED
    finished = run_times(instance, 2)

    assert fail_orphaned_runs(instance) == [orphan.run_id]

    assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
    assert fail_orphaned_runs(instance) == []
    assert prune_run_history(instance, keep=2) == 1
    assert {run.run_id for run in instance.get_runs()} == set(finished)


def test_live_and_untagged_runs_stay_started(instance):
    live = instance.create_run_for_job(tiny_job, tags=process_tags())
    untagged = instance.create_run_for_job(tiny_job)
    for run in (live, untagged):
        instance.report_dagster_event(
            dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name
            ),
            run_id=run.run_id,
        )
    assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED

    assert fail_orphaned_runs(instance) == []
    statuses = {instance.get_run_by_id(run.run_id).status for run in (live, untagged)}
    assert statuses == {dg.DagsterRunStatus.STARTED}


def test_refresh_fails_orphaned_runs(instance, tmp_path, monkeypatch):
    start_killed_run(tmp_path)
    [orphan] = instance.get_runs()
    failed_extraction = SimpleNamespace(success=False)
    monkeypatch.setattr(pipeline, "extract_partitions", lambda *args: [failed_extraction])
    # run_refresh_job sets the warehouse variable, so let monkeypatch restore it.
    monkeypatch.setenv(settings.WAREHOUSE_ENV, "")

    result = pipeline.run_refresh_job(str(tmp_path / "warehouse.duckdb"), instance=instance)

    assert result.runs == [failed_extraction]
    assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
