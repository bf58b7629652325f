"""Incremental builds of the daily and trailing marts write only changed rows, and equal full ones.

The refresh builds a warehouse from the bundled sample. Each test edits a
copy's inputs in place: a sample's value changes on an earlier day, samples
are removed, a service loses its last day. dbt then builds the model incrementally on
the copy and with ``--full-refresh`` on a second copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.test_incremental_models import run_dbt


def _rows(warehouse: Path, model: str, key: str) -> dict[tuple, tuple]:
    """Return the model's rows by the values of the columns ``key``."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = con.execute(f"select * from {model}")
        names = [column[0] for column in result.description]
        rows = result.fetchall()
    positions = [names.index(name.strip()) for name in key.split(",")]
    return {tuple(row[index] for index in positions): row for row in rows}


def _services_by_days(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return the services other than '__all__', the one with the most days first."""
    rows = con.execute(
        "select service from dora_daily where service <> '__all__' "
        "group by service order by count(*) desc, service"
    ).fetchall()
    return [service for (service,) in rows]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dagster_project import pipeline

    path = tmp_path_factory.mktemp("marts") / "warehouse.duckdb"
    result = pipeline.run_refresh_job(str(path), {})
    assert result.success
    return path


@pytest.fixture
def warehouse(built: Path, tmp_path: Path) -> Path:
    """A copy of the built warehouse that the test may edit."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built, path)
    return path


def _build_both(warehouse: Path, folder: Path, model: str) -> tuple[dict, Path]:
    """Build ``model`` incrementally and, on a copy, whole; return the run result and the copy."""
    full = folder / "full.duckdb"
    shutil.copyfile(warehouse, full)
    result = run_dbt(warehouse, folder / "incremental-target", model=model)
    run_dbt(full, folder / "full-target", full_refresh=True, model=model)
    return result, full


def _shortest_lead_time_to_longest(con: duckdb.DuckDBPyConnection, service: str) -> None:
    """Make the service's shortest commit lead time longer than any other.

    That moves the medians of the days and windows that contain it.
    """
    sample_key = con.execute(
        "select sample_key from dora_daily__samples "
        "where service = ? and commit_lead_time_seconds is not null "
        "order by commit_lead_time_seconds, sample_key limit 1",
        [service],
    ).fetchone()[0]
    con.execute(
        "update dora_daily__samples set commit_lead_time_seconds = 1e9 "
        "where service = ? and sample_key = ? and commit_lead_time_seconds is not null",
        [service, sample_key],
    )


def _moved_services(rows: dict[tuple, tuple], before: dict[tuple, tuple]) -> set[str]:
    """Return the services with a row whose metrics differ, leaving out the last column (the fingerprint)."""
    return {key[-1] for key, row in rows.items() if row[:-1] != before[key][:-1]}


def test_trailing_incremental_equals_full(warehouse: Path, tmp_path: Path) -> None:
    model, key = "dora_trailing_metrics", "as_of_date, window_days, service"
    before = _rows(warehouse, model, key)
    with duckdb.connect(str(warehouse)) as con:
        services = _services_by_days(con)
        assert len(services) >= 4, services
        changed, thinned, shortened, untouched = services[:4]
        _shortest_lead_time_to_longest(con, changed)
        # One deployment sample is removed.
        con.execute(
            "delete from dora_daily__samples where service = ? and sample_key = ("
            "select min(sample_key) from dora_daily__samples "
            "where service = ? and sample_kind = 'deployment')",
            [thinned, thinned],
        )
        # A service loses its last day.
        last_day = con.execute(
            "select max(metric_date) from dora_daily where service = ?", [shortened]
        ).fetchone()[0]
        con.execute(
            "delete from dora_daily where service = ? and metric_date = ?", [shortened, last_day]
        )
        # A wrong value in a stored row of a service without changes. A build
        # that writes only changed windows keeps it. A full build corrects it.
        first_day = con.execute(
            f"select min(as_of_date) from {model} where service = ?", [untouched]
        ).fetchone()[0]
        con.execute(
            f"update {model} set deployment_count = -1 "
            "where service = ? and as_of_date = ? and window_days = 7",
            [untouched, first_day],
        )

    result, full = _build_both(warehouse, tmp_path, model)
    assert "changed_services" in result["compiled_code"]

    incremental_rows, full_rows = _rows(warehouse, model, key), _rows(full, model, key)
    # Column 4 is deployment_count.
    kept_key = (first_day, 7, untouched)
    assert incremental_rows.pop(kept_key)[4] == -1
    assert full_rows.pop(kept_key)[4] >= 0
    assert incremental_rows == full_rows
    assert (last_day, 7, shortened) not in incremental_rows
    assert {changed, thinned} <= _moved_services(full_rows, before)


def test_daily_incremental_equals_full(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, key = "dora_daily", "metric_date, service"
    before = _rows(warehouse, model, key)
    with duckdb.connect(str(warehouse)) as con:
        last_day = con.execute("select max(metric_date) from dora_daily").fetchone()[0]
        changed, removed, untouched = _services_by_days(con)[:3]
        _shortest_lead_time_to_longest(con, changed)
        # Every sample of one service is removed, so its rows leave the spine.
        con.execute("delete from dora_daily__samples where service = ?", [removed])
        # A wrong value in a stored row of an unchanged day, kept by a build
        # that writes only changed days and corrected by a full build.
        first_day = con.execute(
            "select min(metric_date) from dora_daily where service = ?", [untouched]
        ).fetchone()[0]
        con.execute(
            "update dora_daily set deployment_count = -1 where service = ? and metric_date = ?",
            [untouched, first_day],
        )
    # The same last day as the refresh, which set the build's as_of.
    monkeypatch.setenv("DORA_AS_OF", f"{last_day.isoformat()}T12:00:00+00:00")

    result, full = _build_both(warehouse, tmp_path, model)
    assert "stored.sample_fingerprint is distinct from" in result["compiled_code"]
    assert "stored as" in result["compiled_code"]

    incremental_rows, full_rows = _rows(warehouse, model, key), _rows(full, model, key)
    # Column 2 is deployment_count.
    kept_key = (first_day, untouched)
    assert incremental_rows.pop(kept_key)[2] == -1
    assert full_rows.pop(kept_key)[2] >= 0
    assert incremental_rows == full_rows
    assert max(day for day, _ in incremental_rows) == last_day
    assert removed not in {service for _, service in incremental_rows}
    assert changed in _moved_services(full_rows, before)
