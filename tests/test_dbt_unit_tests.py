"""The dbt unit tests of every model, run against a warehouse the real refresh built.

A refresh leaves them out to save time, so this test is where they run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster_project.project import dbt_project
from tests.conftest import TESTS_DIR, write_events


def test_dbt_unit_tests_pass(tmp_path: Path, refresh) -> None:
    case = json.loads((TESTS_DIR / "cases" / "C12.json").read_text())["input"]
    events = write_events(
        tmp_path / "events",
        commits=case["changes"],
        deployments=case["deployments"],
        incidents=case["incidents"],
    )
    warehouse = refresh(events, as_of=case["window"]["end"])
    dbt = Path(sys.executable).with_name("dbt")
    project_dir = str(dbt_project.project_dir)
    completed = subprocess.run(
        [
            str(dbt),
            "test",
            "--select",
            "test_type:unit",
            "--project-dir",
            project_dir,
            "--profiles-dir",
            project_dir,
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={**os.environ, "DORA_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = {result["unique_id"]: result["status"] for result in results}
    assert len(statuses) >= 10, f"expected the project's unit tests, found {sorted(statuses)}"
    failed = {name: status for name, status in statuses.items() if status != "pass"}
    assert failed == {}
