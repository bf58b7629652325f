"""The code location loads as `dagster dev` loads it, with its jobs, schedules and sensor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_workspace_validates(tmp_path: Path) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "Validation successful for code location dora" in completed.stdout + completed.stderr


def test_jobs_schedules_and_sensor_defined() -> None:
    from dagster_project.definitions import defs

    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"refresh_all", "refresh_incremental"} <= jobs
    schedules = {schedule.name: schedule for schedule in defs.schedules or []}
    assert set(schedules) == {"refresh_incremental_hourly", "refresh_all_daily"}
    assert {schedule.job_name for schedule in schedules.values()} == {
        "refresh_all",
        "refresh_incremental",
    }
    assert sorted(sensor.name for sensor in defs.sensors or []) == [
        "contract_breach_sensor",
        "extract_sources_sensor",
        "merge_after_extraction_failure",
        "merge_after_extraction_success",
        "prune_run_history_sensor",
    ]


def test_warehouse_writing_runs_queue_one_at_a_time(tmp_path: Path, monkeypatch) -> None:
    import dagster as dg

    from dagster_project import settings
    from dagster_project.definitions import defs

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    settings.dagster_home()
    instance = dg.DagsterInstance.get()
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": settings.WRITES_WAREHOUSE_TAG, "limit": 1} in limits
    for name in ("refresh_all", "refresh_incremental"):
        assert defs.resolve_job_def(name).tags.get(settings.WRITES_WAREHOUSE_TAG) == "true"
