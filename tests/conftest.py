"""Shared test set-up: offline settings, the dbt manifest, and a refresh helper."""

from __future__ import annotations

import json
import os
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
