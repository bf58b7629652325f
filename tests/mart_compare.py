"""Compare the mart tables of two DuckDB files row by row.

Timestamps must be the same instant to the microsecond, floating-point
values (rates, durations, averages, percentiles) the same within 1e-9
(absolute or relative), everything else equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb

TOLERANCE = 1e-9


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _sort_key(row: tuple) -> tuple:
    """Order rows by their values, with floats rounded so float error cannot reorder them."""
    key = []
    for value in row:
        if value is None:
            key.append((0, ""))
        elif isinstance(value, float):
            key.append((1, f"{value:.6e}" if math.isfinite(value) else str(value)))
        else:
            key.append((1, str(value)))
    return tuple(key)


def read_table(
    con: duckdb.DuckDBPyConnection, table: str, ignored: Sequence[str] = ()
) -> tuple[list[str], list[tuple]]:
    """Return the column names and the normalised, sorted rows of a table.

    The ``ignored`` columns are left out.
    """
    exclude = f" exclude ({', '.join(ignored)})" if ignored else ""
    result = con.execute(f"select *{exclude} from {table}")
    columns = [column[0] for column in result.description]
    rows = [tuple(_normalise(value) for value in row) for row in result.fetchall()]
    return columns, sorted(rows, key=_sort_key)


def same_value(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        if isinstance(expected, int) and isinstance(actual, int):
            return expected == actual
        return math.isclose(expected, actual, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return expected == actual


def table_differences(
    reference: duckdb.DuckDBPyConnection,
    other: duckdb.DuckDBPyConnection,
    table: str,
    ignored: Sequence[str] = (),
    limit: int = 5,
) -> list[str]:
    """Return up to ``limit`` messages, each naming one difference of ``table``."""
    columns, expected_rows = read_table(reference, table, ignored)
    other_columns, actual_rows = read_table(other, table, ignored)
    if other_columns != columns:
        return [f"{table}: columns {other_columns}, expected {columns}"]
    if len(actual_rows) != len(expected_rows):
        return [f"{table}: {len(actual_rows)} rows, expected {len(expected_rows)}"]
    messages = []
    for index, (expected, actual) in enumerate(zip(expected_rows, actual_rows, strict=True)):
        for column, want, got in zip(columns, expected, actual, strict=True):
            if not same_value(want, got):
                messages.append(
                    f"{table} row {index} column {column}: {got!r}, expected {want!r} "
                    f"(expected row {expected!r})"
                )
                break
        if len(messages) >= limit:
            break
    return messages
