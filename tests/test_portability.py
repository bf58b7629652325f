"""The same input builds the same marts on PostgreSQL and Spark as on DuckDB.

Each input (the embedded sample, and every hand-checked case merged into one
event set) is refreshed once on DuckDB and once per engine by the real
refresh job; the engine's marts are copied back into its DuckDB file, and
every row of every mart is compared with DuckDB's. PostgreSQL runs as a
throwaway server on 127.0.0.1 (tests/engine_servers.py), Spark as a local
pyspark session with a Hive metastore in a temporary folder, and as a Spark
Thrift server started from pyspark's jars on 127.0.0.1, over a socket and
over HTTPS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dagster_project import pipeline, settings, warehouse
from tests.conftest import TESTS_DIR, write_events
from tests.engine_servers import postgres_server, spark_settings, spark_thrift_server
from tests.mart_compare import table_differences

ENGINES = ("postgres", "spark", "spark_thrift")
# Columns that differ between engines by design: the time of the run, and the
# sample fingerprints, which only DuckDB computes (0 elsewhere).
IGNORED_COLUMNS = {
    "pipeline_settings": ("built_at",),
    "dora_daily": ("sample_fingerprint",),
    "dora_trailing_metrics": ("sample_fingerprint",),
}
CASES_AS_OF = "2025-06-01T00:00:00+00:00"
# A zone with daylight saving time, so the local-date macros are exercised.
CASES_TIMEZONE = "Europe/Berlin"


def merged_cases(folder: Path) -> tuple[Path, dict[str, Any]]:
    """Write every case's events into one set; return the folder and the config.

    Each case gets its own repository, and its ids and service names get the
    case id as a prefix, so the cases cannot collide.
    """
    commits, deployments, incidents = [], [], []
    mapping: dict[str, str] = {}
    for path in sorted((TESTS_DIR / "cases").glob("C*.json")):
        case_id = path.stem
        data = json.loads(path.read_text())["input"]
        mapping.update(data.get("environment_mapping") or {})
        commits += [{**change, "repo": case_id} for change in data["changes"]]
        for deployment in data["deployments"]:
            deployments.append(
                {
                    **deployment,
                    "repo": case_id,
                    "id": f"{case_id}-{deployment['id']}",
                    "service": f"{case_id}-{deployment['service']}",
                }
            )
        for incident in data["incidents"]:
            renamed = {**incident, "id": f"{case_id}-{incident['id']}"}
            renamed["service"] = f"{case_id}-{incident['service']}"
            for key in ("caused_by_deployment_id", "merged_into"):
                if incident.get(key):
                    renamed[key] = f"{case_id}-{incident[key]}"
            incidents.append(renamed)
    events = write_events(folder, commits=commits, deployments=deployments, incidents=incidents)
    config: dict[str, Any] = {"timezone": CASES_TIMEZONE}
    if mapping:
        config["environments"] = {"mapping": mapping}
    return events, config


def refresh(folder: Path, input_name: str) -> Path:
    """Run the refresh job on one input into a new DuckDB file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    run_settings: dict[str, str] = {}
    if input_name == "sample":
        run_settings["as_of"] = settings.SAMPLE_AS_OF
    else:
        import yaml

        events, config = merged_cases(folder / "events")
        config_file = folder / "dora.yml"
        config_file.write_text(yaml.safe_dump(config))
        run_settings |= {
            "events_dir": str(events),
            "config_path": str(config_file),
            "as_of": CASES_AS_OF,
        }
    warehouse_file = folder / "warehouse.duckdb"
    result = pipeline.run_refresh_job(str(warehouse_file), run_settings)
    if not result.success:
        from dagster_project.cli import _failure_message

        pytest.fail(f"the refresh of {input_name} failed: {_failure_message(result)}")
    return warehouse_file


@pytest.fixture(scope="module")
def duckdb_marts(tmp_path_factory) -> dict[str, Path]:
    """DuckDB's warehouse file per input, built on first use and kept for the module."""

    class Cache(dict):
        def __missing__(self, input_name: str) -> Path:
            self[input_name] = refresh(tmp_path_factory.mktemp(f"duckdb-{input_name}"), input_name)
            return self[input_name]

    return Cache()


@pytest.fixture(scope="module")
def postgres_environment() -> Iterator[dict[str, str]]:
    with postgres_server() as environment:
        yield environment


@pytest.fixture(scope="module")
def spark_thrift_environment() -> Iterator[dict[str, str]]:
    with spark_thrift_server() as environment:
        yield environment


@pytest.fixture(scope="module")
def spark_http_environment() -> Iterator[dict[str, str]]:
    with spark_thrift_server(http=True) as environment:
        yield environment


@pytest.fixture
def engine_environment(request) -> Iterator[dict[str, str]]:
    engine = request.param
    if engine == "spark":
        with spark_settings() as environment:
            yield {"DORA_ENGINE": "spark", **environment}
        return
    # Servers start on first use, so a worker that runs no test of an engine starts none.
    server = request.getfixturevalue(f"{engine}_environment")
    # Each test gets its own schema, so no table of an earlier test is read.
    schema_setting = "DORA_POSTGRES_SCHEMA" if engine == "postgres" else "DORA_SPARK_SCHEMA"
    yield {"DORA_ENGINE": engine, **server, schema_setting: f"dora_{uuid.uuid4().hex[:8]}"}


def mart_tables() -> list[str]:
    from dagster_project.defs.dbt import MART_MODELS

    return sorted(MART_MODELS)


# The HTTP target differs from the Thrift one only in its transport, so it
# builds the sample alone.
ENGINE_INPUTS = [
    *((engine, input_name) for engine in ENGINES for input_name in ("sample", "cases")),
    ("spark_http", "sample"),
]


@pytest.mark.parametrize(
    ("engine_environment", "input_name"), ENGINE_INPUTS, indirect=["engine_environment"]
)
def test_marts_match_duckdb(
    input_name: str,
    engine_environment: dict[str, str],
    duckdb_marts: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference_file = duckdb_marts[input_name]
    for name, value in engine_environment.items():
        monkeypatch.setenv(name, value)
    engine_file = refresh(tmp_path, input_name)
    monkeypatch.delenv("DORA_ENGINE")

    with (
        warehouse.open_warehouse(reference_file, read_only=True) as reference,
        warehouse.open_warehouse(engine_file, read_only=True) as other,
    ):
        differences = []
        compared = 0
        for table in mart_tables():
            ignored = IGNORED_COLUMNS.get(table, ())
            differences += table_differences(reference, other, table, ignored)
            compared += reference.execute(f"select count(*) from {table}").fetchone()[0]
    assert compared > 0, "the DuckDB marts are empty, so nothing was compared"
    assert differences == [], "\n".join(differences)
