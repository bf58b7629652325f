"""Shared test set-up: offline settings, the dbt manifest, and a refresh helper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.update(
    {
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
)
# Runs use a throwaway Dagster instance unless a test asks for one.
os.environ.pop("DAGSTER_HOME", None)
os.environ.pop("DORA_CONFIG", None)

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """Parse the dbt project once; ensure_manifest keeps parallel workers in turn."""
    from dagster_project.project import ensure_manifest

    return ensure_manifest()


def write_events(folder: Path, **entities: list[dict[str, Any]]) -> Path:
    """Write neutral-form event files (one JSON list per entity) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for entity, rows in entities.items():
        (folder / f"{entity}.json").write_text(json.dumps(rows, indent=1))
    return folder


def write_case_events(folder: Path, case_id: str) -> tuple[Path, str]:
    """Write the commits, deployments and incidents of a case in tests/cases into ``folder``.

    Returns the folder and the end of the case's window, the as_of to refresh at.
    """
    case = json.loads((TESTS_DIR / "cases" / f"{case_id}.json").read_text())["input"]
    events = write_events(
        folder,
        commits=case["changes"],
        deployments=case["deployments"],
        incidents=case["incidents"],
    )
    return events, case["window"]["end"]


@pytest.fixture
def refresh(tmp_path: Path) -> Callable[..., Path]:
    """Return a function that runs the real refresh job into a new DuckDB file."""
    from dagster_project import pipeline

    def run(
        events_dir: Path | None = None, config: dict | None = None, **run_settings: str
    ) -> Path:
        warehouse = tmp_path / "warehouse.duckdb"
        if config is not None:
            import yaml

            config_file = tmp_path / "dora.yml"
            config_file.write_text(yaml.safe_dump(config))
            run_settings["config_path"] = str(config_file)
        if events_dir is not None:
            run_settings["events_dir"] = str(events_dir)
        result = pipeline.run_refresh_job(str(warehouse), run_settings)
        if not result.success:
            from dagster_project.cli import _failure_message

            pytest.fail(_failure_message(result))
        return warehouse

    return run


def run_dbt(
    tmp_path: Path, warehouse: Path, *args: str
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run the venv's dbt on the project against ``warehouse``; return the process and results.

    The target and log folders are private to the test, so parallel workers
    never share dbt's run_results.json.
    """
    from dagster_project.project import dbt_project

    dbt = Path(sys.executable).with_name("dbt")
    project_dir = str(dbt_project.project_dir)
    completed = subprocess.run(
        [
            str(dbt),
            *args,
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
    results_file = tmp_path / "target" / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    return completed, results
