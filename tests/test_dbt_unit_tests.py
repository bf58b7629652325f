"""The dbt unit tests of every model, run against a warehouse the real refresh built.

A refresh leaves them out to save time, so this test is where they run.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_dbt, write_case_events


def test_dbt_unit_tests_pass(tmp_path: Path, refresh) -> None:
    events, as_of = write_case_events(tmp_path / "events", "C12")
    warehouse = refresh(events, as_of=as_of)
    completed, results = run_dbt(tmp_path, warehouse, "test", "--select", "test_type:unit")
    assert completed.returncode == 0, completed.stdout[-4000:]
    statuses = {result["unique_id"]: result["status"] for result in results}
    assert len(statuses) >= 10, f"expected the project's unit tests, found {sorted(statuses)}"
    failed = {name: status for name, status in statuses.items() if status != "pass"}
    assert failed == {}
