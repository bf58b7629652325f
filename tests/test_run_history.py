"""The Dagster run history is pruned to the newest finished runs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from dagster_project.defs.run_history import prune_run_history_sensor
from dagster_project.run_history import (
    KEEP_RUNS_ENV,
    RunHistoryError,
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
