"""An incremental build of dora_trailing_metrics writes only changed windows, and equals a full one.

The refresh builds a warehouse from the bundled sample. The test then edits
the model's two inputs, dora_daily__samples and dora_daily, in place: a
sample's value changes on an earlier day, a sample goes, and a service loses
its last day. dbt builds dora_trailing_metrics incrementally on the
warehouse and with ``--full-refresh`` on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.test_incremental_models import run_dbt

MODEL = "dora_trailing_metrics"
KEY = "as_of_date, window_days, service"


def _rows(warehouse: Path) -> dict[tuple, tuple]:
    """Return the model's rows by key."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"select * from {MODEL} order by {KEY}").fetchall()
    # The key columns are as_of_date, window_days and, after window_start_date, service.
    return {(row[0], row[1], row[3]): row for row in rows}


def _services_by_days(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return the services other than '__all__', the one with the most days first."""
    rows = con.execute(
        "select service from dora_daily where service <> '__all__' "
        "group by service order by count(*) desc, service"
    ).fetchall()
    return [service for (service,) in rows]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dagster_project import pipeline

    path = tmp_path_factory.mktemp("trailing") / "warehouse.duckdb"
    result = pipeline.run_refresh_job(str(path), {})
    assert result.success
    return path


def test_trailing_incremental_equals_full(warehouse: Path, tmp_path: Path) -> None:
    before = _rows(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        services = _services_by_days(con)
        assert len(services) >= 4, services
        changed, thinned, shortened, untouched = services[:4]
        # The service's shortest commit lead time becomes longer than any
        # other, which moves the medians of the windows that hold it.
        sample_key = con.execute(
            "select sample_key from dora_daily__samples "
            "where service = ? and commit_lead_time_seconds is not null "
            "order by commit_lead_time_seconds, sample_key limit 1",
            [changed],
        ).fetchone()[0]
        con.execute(
            "update dora_daily__samples set commit_lead_time_seconds = 1e9 "
            "where service = ? and sample_key = ? and commit_lead_time_seconds is not null",
            [changed, sample_key],
        )
        # A deployment sample goes.
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
            f"select min(as_of_date) from {MODEL} where service = ?", [untouched]
        ).fetchone()[0]
        con.execute(
            f"update {MODEL} set deployment_count = -1 "
            "where service = ? and as_of_date = ? and window_days = 7",
            [untouched, first_day],
        )

    full = tmp_path / "full.duckdb"
    shutil.copyfile(warehouse, full)
    result = run_dbt(warehouse, tmp_path / "incremental-target", model=MODEL)
    run_dbt(full, tmp_path / "full-target", full_refresh=True, model=MODEL)
    assert "changed_services" in result["compiled_code"]

    incremental_rows, full_rows = _rows(warehouse), _rows(full)
    kept_key = (first_day, 7, untouched)
    assert incremental_rows.pop(kept_key)[4] == -1
    assert full_rows.pop(kept_key)[4] >= 0
    assert incremental_rows == full_rows
    assert (last_day, 7, shortened) not in incremental_rows
    # The edits changed metrics of their services (the fingerprint, last, left out).
    for service in (changed, thinned):
        moved = [key for key, row in full_rows.items() if row[:-1] != before[key][:-1]]
        assert any(key[2] == service for key in moved), service
