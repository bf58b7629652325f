"""Run the real refresh job against a fake GitHub server, and query its warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dagster_project import pipeline, warehouse


def refresh_with_config(folder: Path, settings: dict[str, Any], as_of: str) -> Path:
    """Write ``settings`` as the folder's dora.yml, refresh into a new warehouse, return it."""
    path = folder / "warehouse.duckdb"
    config_file = folder / "dora.yml"
    config_file.write_text(yaml.safe_dump(settings))
    result = pipeline.run_refresh_job(str(path), {"config_path": str(config_file), "as_of": as_of})
    assert result.success, [
        str(event.event_specific_data.error) for event in result.all_events if event.is_step_failure
    ]
    return path


def query(path: Path, sql: str) -> list[tuple]:
    with warehouse.open_warehouse(path, read_only=True) as con:
        return con.execute(sql).fetchall()
