"""The `not_null_columns` test: one test per model reports every null column it lists."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import yaml

from dagster_project import dbt_failures
from dagster_project.project import dbt_project
from tests.conftest import TESTS_DIR, run_dbt, write_events

MODEL = "fct_deployments"


def _listed_columns(model: str) -> list[str]:
    spec = next(Path(dbt_project.project_dir, "models").rglob(f"{model}.yml"))
    tests = yaml.safe_load(spec.read_text())["models"][0]["data_tests"]
    test = next(test["not_null_columns"] for test in tests if "not_null_columns" in test)
    return test["arguments"]["columns"]


def _run_test(tmp_path: Path, warehouse: Path) -> tuple[list[dict], set[tuple[str, int]]]:
    selector = f"{MODEL},test_name:not_null_columns"
    _, results = run_dbt(tmp_path, warehouse, "test", "--select", selector, "--store-failures")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"select column_name, null_row_count from {results[0]['relation_name']}")
        return results, {(name, int(count)) for name, count in rows.fetchall()}


def test_not_null_columns_names_each_null_column(tmp_path: Path, refresh) -> None:
    case = json.loads((TESTS_DIR / "cases" / "C12.json").read_text())["input"]
    events = write_events(
        tmp_path / "events", commits=case["changes"], deployments=case["deployments"]
    )
    warehouse = refresh(events, as_of=case["window"]["end"])
    first, second = _listed_columns(MODEL)[:2]

    results, failures = _run_test(tmp_path, warehouse)
    assert [result["status"] for result in results] == ["pass"]
    assert failures == set()

    with duckdb.connect(str(warehouse)) as con:
        keys = [
            row[0] for row in con.sql(f"select deployment_key from {MODEL} order by 1").fetchall()
        ]
        assert len(keys) >= 3, keys
        con.execute(f"update {MODEL} set {first} = null where deployment_key in (?, ?)", keys[:2])
        con.execute(f"update {MODEL} set {second} = null where deployment_key = ?", keys[2:3])

    results, failures = _run_test(tmp_path, warehouse)
    assert [result["status"] for result in results] == ["fail"]
    assert failures == {(first, 2), (second, 1)}

    # What a failed refresh adds to dbt's message, read from the same target folder.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lines = dbt_failures.null_column_lines(tmp_path / "target", con)
    counts = ", ".join(
        f"{name} ({count} {'row' if count == 1 else 'rows'})" for name, count in sorted(failures)
    )
    assert lines == [f"{MODEL} has nulls in {counts}"]


def test_no_column_level_not_null_tests_remain() -> None:
    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    names = {
        node.get("test_metadata", {}).get("name")
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
    }
    assert "not_null_columns" in names
    assert "not_null" not in names, "fold not_null into the model's not_null_columns test"
