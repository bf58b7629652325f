"""Name the null columns behind a failed ``not_null_columns`` data test.

dbt reports a failed test as "Got N results", and the test's name lists
every column it checks. On DuckDB the failing rows are cheap to read again:
one row per null column with its count. This module reads them from the
warehouse with the compiled SQL that dbt wrote in its target folder. No
Dagster imports.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

TEST_NAME = "not_null_columns"


def _failed_null_tests(target: Path) -> list[tuple[str, str]]:
    """Return (model name, compiled SQL) of each failed not_null_columns test in ``target``."""
    results_file, manifest_file = target / "run_results.json", target / "manifest.json"
    if not results_file.exists() or not manifest_file.exists():
        return []
    nodes = json.loads(manifest_file.read_text(encoding="utf-8"))["nodes"]
    failed = []
    for result in json.loads(results_file.read_text(encoding="utf-8"))["results"]:
        node = nodes.get(result["unique_id"], {})
        if result["status"] != "fail" or node.get("test_metadata", {}).get("name") != TEST_NAME:
            continue
        model = (node.get("attached_node") or "").rsplit(".", 1)[-1]
        if result.get("compiled_code") and model:
            failed.append((model, result["compiled_code"]))
    return failed


def null_column_lines(target: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return one line per model whose not_null_columns test failed, naming each null column."""
    lines = []
    for model, sql in _failed_null_tests(target):
        rows = con.execute(
            f"select column_name, null_row_count from ({sql}) order by column_name"
        ).fetchall()
        columns = ", ".join(
            f"{column} ({count} {'row' if count == 1 else 'rows'})" for column, count in rows
        )
        lines.append(f"{model} has nulls in {columns}")
    return lines
