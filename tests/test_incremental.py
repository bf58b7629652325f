"""A refresh on top of an earlier warehouse gives the same marts as a refresh from scratch.

The sample generator writes a short history; ``benchmarks.daycut`` cuts a copy
at the start of its last day. One warehouse is built on the cut copy and then
refreshed with every day (the incremental path: cursors, content hashes and
incremental models may skip work); another is built once on every day (the
full path). Every row of every mart must be the same in both.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from benchmarks.daycut import cut_events
from dagster_project import pipeline
from dagster_project.containment import TABLE as CONTAINMENT_TABLE
from dagster_project.sample.generator import ORG_ZONE, generate

END_DATE = date(2026, 11, 30)
END = datetime.combine(END_DATE + timedelta(days=1), datetime.min.time(), ORG_ZONE)
CUT = END - timedelta(days=1)
MART_PREFIXES = ("fct_", "dim_", "dora_", "dq_", "contract_")
# Columns that record when a row was written, not its content.
LOAD_TIME_COLUMNS = {"_loaded_at", "refreshed_at", "updated_at_run"}
# Models built with is_incremental() on DuckDB, and a CTE that only their incremental branch has.
INCREMENTAL_MODELS = {"int_commits": "changed_keys", "dora_trailing_metrics": "changed_services"}


def _refresh(
    warehouse: Path,
    events: Path,
    as_of: datetime,
    incremental: bool = False,
    dbt_target: Path | None = None,
) -> pipeline.RefreshResult:
    """Refresh ``warehouse``; dbt writes its run results under ``dbt_target`` when given."""
    previous = os.environ.get("DBT_TARGET_PATH")
    if dbt_target is not None:
        os.environ["DBT_TARGET_PATH"] = str(dbt_target)
    try:
        result = pipeline.run_refresh_job(
            str(warehouse),
            {"events_dir": str(events), "as_of": as_of.isoformat(), "timezone": "Europe/Berlin"},
            incremental=incremental,
        )
    finally:
        if previous is None:
            os.environ.pop("DBT_TARGET_PATH", None)
        else:
            os.environ["DBT_TARGET_PATH"] = previous
    if not result.success:
        from dagster_project.cli import _failure_message

        pytest.fail(_failure_message(result))
    return result


def _containment_metadata(result: pipeline.RefreshResult) -> dict[str, object]:
    """Return the metadata values of the containment table's materialization."""
    for materialization in result.asset_materializations_for_node("containment"):
        if materialization.asset_key.path[-1] == CONTAINMENT_TABLE:
            return {name: value.value for name, value in materialization.metadata.items()}
    raise AssertionError("the refresh did not materialize the containment table")


def _model_results(dbt_target: Path) -> dict[str, dict]:
    """Map each dbt model name to its run result in every run_results.json under a folder."""
    results = {}
    for path in sorted(dbt_target.glob("**/run_results.json")):
        for result in json.loads(path.read_text(encoding="utf-8"))["results"]:
            if result["unique_id"].startswith("model."):
                results[result["unique_id"].rsplit(".", 1)[-1]] = result
    return results


def _mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = 'main' "
        "and table_type = 'BASE TABLE' order by table_name"
    ).fetchall()
    return [name for (name,) in names if name.startswith(MART_PREFIXES)]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = 'main' "
        "and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [name for (name,) in rows if name not in LOAD_TIME_COLUMNS]


def _differences(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[tuple]:
    """Return rows found in one warehouse and not the other, with multiplicity."""
    select = ", ".join(f'"{name}"' for name in columns)
    return con.execute(
        f"(select 'incremental only' as side, * from "
        f"(select {select} from inc.main.{table} except all select {select} from main.{table}))"
        f" union all (select 'full only' as side, * from "
        f"(select {select} from main.{table} except all select {select} from inc.main.{table}))"
        " limit 5"
    ).fetchall()


@dataclass
class Pair:
    """A warehouse refreshed incrementally and one built on the same events from scratch."""

    incremental: Path
    full: Path
    # Metadata of the containment table in the incremental refresh.
    containment: dict[str, object]
    # dbt run results of the incremental refresh, by model name.
    models: dict[str, dict]


def _build_pair(root: Path, cut: Path, events: Path) -> Pair:
    """Build on ``cut``, refresh incrementally on ``events``, and build ``events`` from scratch."""
    incremental = root / "incremental.duckdb"
    _refresh(incremental, cut, CUT)
    dbt_target = root / "dbt-target"
    result = _refresh(incremental, events, END, incremental=True, dbt_target=dbt_target)
    full = root / "full.duckdb"
    _refresh(full, events, END)
    return Pair(incremental, full, _containment_metadata(result), _model_results(dbt_target))


def _fail_one_deployment(events: Path) -> str:
    """Turn the first successful production deployment into a failed one; return its id."""
    path = events / "deployments.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        record = json.loads(line)
        if record["environment"] == "production" and record["status"] == "success":
            record["status"] = "failure"
            record["status_history"][0]["state"] = "failure"
            lines[index] = json.dumps(record)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return record["id"]
    raise AssertionError(f"{path} has no successful production deployment")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The generated events and their copy cut at the start of the last day."""
    root = tmp_path_factory.mktemp("events")
    events = root / "events"
    generate(events, size="small", seed=11, end_date=END_DATE, scale=0.1)
    cut = root / "events_cut"
    cut_events(events, cut, CUT)
    return events, cut


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory, sample: tuple[Path, Path]) -> Pair:
    events, cut = sample
    return _build_pair(tmp_path_factory.mktemp("incremental"), cut, events)


@pytest.fixture(scope="module")
def changed_status(tmp_path_factory: pytest.TempPathFactory, sample: tuple[Path, Path]) -> Pair:
    """One more day in which a deployment of an earlier day turned out to have failed."""
    events, cut = sample
    root = tmp_path_factory.mktemp("changed-status")
    changed = root / "events"
    changed.mkdir()
    for path in events.iterdir():
        (changed / path.name).write_bytes(path.read_bytes())
    _fail_one_deployment(changed)
    return _build_pair(root, cut, changed)


def _mismatched_marts(pair: Pair) -> dict[str, tuple]:
    """Return, per mart that differs between the two warehouses, both counts and some rows."""
    with duckdb.connect(str(pair.full), read_only=True) as con:
        con.execute(f"attach '{pair.incremental}' as inc (read_only)")
        tables = _mart_tables(con)
        assert "fct_deployments" in tables
        assert "dora_daily" in tables
        with duckdb.connect(str(pair.incremental), read_only=True) as other:
            assert _mart_tables(other) == tables
        mismatched = {}
        for table in tables:
            columns = _columns(con, table)
            count = con.execute(f"select count(*) from main.{table}").fetchone()[0]
            other_count = con.execute(f"select count(*) from inc.main.{table}").fetchone()[0]
            differences = _differences(con, table, columns)
            if count != other_count or differences:
                mismatched[table] = (count, other_count, differences)
    return mismatched


def test_cut_copy_lacks_last_day(sample: tuple[Path, Path]) -> None:
    events, cut = sample
    for name in ("commits.jsonl", "deployments.jsonl"):
        whole = (events / name).read_text().splitlines()
        part = (cut / name).read_text().splitlines()
        assert 0 < len(part) < len(whole), name
        assert set(part) <= set(whole), name


def test_every_mart_row_matches_a_full_build(warehouses: Pair) -> None:
    assert _mismatched_marts(warehouses) == {}


def test_containment_extended_stored_rows(warehouses: Pair) -> None:
    metadata = warehouses.containment
    assert metadata["containment_path"] == "incremental", metadata["full_walk_reason"]
    assert metadata["reused_row_count"] > 0
    assert metadata["reused_row_count"] < metadata["row_count"]
    assert metadata["walked_deployment_count"] > 0


def test_dbt_models_ran_incrementally(warehouses: Pair) -> None:
    for model, marker in INCREMENTAL_MODELS.items():
        result = warehouses.models[model]
        assert result["status"] == "success", model
        assert marker in result["compiled_code"], model


def test_changed_status_walks_everything(changed_status: Pair) -> None:
    metadata = changed_status.containment
    assert metadata["containment_path"] == "full"
    assert "no longer counted" in metadata["full_walk_reason"]
    assert metadata["reused_row_count"] == 0


def test_changed_status_matches_a_full_build(changed_status: Pair) -> None:
    assert _mismatched_marts(changed_status) == {}


def test_incremental_counts_last_day(warehouses: Pair) -> None:
    zone = ZoneInfo("Europe/Berlin")
    with duckdb.connect(str(warehouses.incremental), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        latest = con.execute("select max(deployed_at) from fct_deployments").fetchone()[0]
    assert latest.astimezone(zone) >= CUT
