"""Paths and environment variables shared by the pipeline, the CLI and the tests."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_EVENTS_DIR = DATA_DIR / "sample"
# The bundled sample ends on 2026-11-30; a refresh of it measures at the end of
# that day unless --as-of says otherwise, so its numbers do not drift with the clock.
SAMPLE_AS_OF = "2026-11-30T23:59:59+00:00"

WAREHOUSE_ENV = "DORA_WAREHOUSE"
DAGSTER_HOME_ENV = "DAGSTER_HOME"
CONFIG_ENV = "DORA_CONFIG"

DEFAULT_WAREHOUSE = DATA_DIR / "dora.duckdb"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"

# Telemetry of Dagster and dbt is off for every process this package starts.
OFFLINE_ENVIRONMENT = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
}


# Telemetry off; runs that write the warehouse (tagged in definitions.py) queue
# one behind the other, because DuckDB allows one writer; the SQLite event log
# keeps its connections open (event_log.py).
WRITES_WAREHOUSE_TAG = "dora/writes-warehouse"
INSTANCE_SETTINGS = f"""telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  runs:
    tag_concurrency_limits:
      - key: "{WRITES_WAREHOUSE_TAG}"
        limit: 1
event_log_storage:
  module: dagster_project.event_log
  class: SqliteEventLog
"""


def apply_offline_environment() -> None:
    """Set the telemetry switches unless the caller already set them."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def warehouse_path() -> Path:
    """Return the DuckDB file: ``$DORA_WAREHOUSE`` or ``data/dora.duckdb``."""
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve()


def dagster_home() -> Path:
    """Return ``$DAGSTER_HOME``, creating the project default with telemetry off."""
    configured = os.environ.get(DAGSTER_HOME_ENV)
    home = Path(configured) if configured else DEFAULT_DAGSTER_HOME
    home.mkdir(parents=True, exist_ok=True)
    instance_file = home / "dagster.yaml"
    if not instance_file.exists():
        instance_file.write_text(INSTANCE_SETTINGS)
    return home.resolve()
