"""A refresh on top of an earlier warehouse gives the same marts as a refresh from scratch.

The sample generator writes a short history; ``benchmarks.daycut`` cuts a copy
at the start of its last day. One warehouse is built on the cut copy and then
refreshed with every day (the incremental path: cursors, content hashes and
incremental models may skip work); another is built once on every day (the
full path). Every row of every mart must be the same in both.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from benchmarks.daycut import cut_events
from dagster_project import pipeline
from dagster_project.sample.generator import ORG_ZONE, generate

END_DATE = date(2026, 11, 30)
END = datetime.combine(END_DATE + timedelta(days=1), datetime.min.time(), ORG_ZONE)
CUT = END - timedelta(days=1)
MART_PREFIXES = ("fct_", "dim_", "dora_", "dq_", "contract_")
# Columns that record when a row was written, not its content.
LOAD_TIME_COLUMNS = {"_loaded_at", "refreshed_at", "updated_at_run"}


def _refresh(warehouse: Path, events: Path, as_of: datetime, incremental: bool = False) -> None:
    result = pipeline.run_refresh_job(
        str(warehouse),
        {"events_dir": str(events), "as_of": as_of.isoformat(), "timezone": "Europe/Berlin"},
        incremental=incremental,
    )
    if not result.success:
        from dagster_project.cli import _failure_message

        pytest.fail(_failure_message(result))


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


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("incremental")
    events = root / "events"
    generate(events, size="small", seed=11, end_date=END_DATE, scale=0.1)
    cut = root / "events_cut"
    cut_events(events, cut, CUT)
    incremental = root / "incremental.duckdb"
    _refresh(incremental, cut, CUT)
    _refresh(incremental, events, END, incremental=True)
    full = root / "full.duckdb"
    _refresh(full, events, END)
    return incremental, full


def test_the_cut_copy_lacks_the_last_day(warehouses: tuple[Path, Path]) -> None:
    incremental, _full = warehouses
    events = incremental.parent / "events"
    cut = incremental.parent / "events_cut"
    for name in ("commits.jsonl", "deployments.jsonl"):
        whole = (events / name).read_text().splitlines()
        part = (cut / name).read_text().splitlines()
        assert 0 < len(part) < len(whole), name
        assert set(part) <= set(whole), name


def test_every_mart_row_matches_a_full_build(warehouses: tuple[Path, Path]) -> None:
    incremental, full = warehouses
    with duckdb.connect(str(full), read_only=True) as con:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        tables = _mart_tables(con)
        assert "fct_deployments" in tables
        assert "dora_daily" in tables
        with duckdb.connect(str(incremental), read_only=True) as other:
            assert _mart_tables(other) == tables
        mismatched = {}
        for table in tables:
            columns = _columns(con, table)
            count = con.execute(f"select count(*) from main.{table}").fetchone()[0]
            other_count = con.execute(f"select count(*) from inc.main.{table}").fetchone()[0]
            differences = _differences(con, table, columns)
            if count != other_count or differences:
                mismatched[table] = (count, other_count, differences)
    assert not mismatched, mismatched


def test_the_last_day_is_counted(warehouses: tuple[Path, Path]) -> None:
    incremental, _ = warehouses
    zone = ZoneInfo("Europe/Berlin")
    with duckdb.connect(str(incremental), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        latest = con.execute("select max(deployed_at) from fct_deployments").fetchone()[0]
    assert latest.astimezone(zone) >= CUT
