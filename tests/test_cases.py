"""Every hand-checked metric case, run through the real pipeline.

Each case is written as neutral-form event files, loaded by the file source,
built by the refresh job (dbt and the containment step), and read back from the
fact marts with the window metrics of ``dora metrics``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dagster_project import metrics, warehouse
from tests.conftest import TESTS_DIR, write_events

CASE_FILES = sorted((TESTS_DIR / "cases").glob("C*.json"))
TOLERANCE = 1e-4


def load_case(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def assert_same(name: str, expected: Any, actual: Any) -> None:
    """Compare one expected value; a day missing from a per-day dict means 0."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{name}: expected a mapping, got {actual!r}"
        if all(isinstance(value, dict) for value in expected.values()):
            for key in expected:
                assert_same(f"{name}[{key}]", expected[key], actual.get(key, {}))
            return
        for key in sorted(set(expected) | set(actual)):
            assert_same(f"{name}[{key}]", expected.get(key, 0), actual.get(key, 0))
        return
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{name}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{name}: expected {expected}, got {actual}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            assert_same(f"{name}[{index}]", want, got)
        return
    if expected is None:
        assert actual is None, f"{name}: expected no data (null), got {actual!r}"
        return
    assert actual is not None, f"{name}: expected {expected}, got no data (null)"
    assert math.isclose(actual, expected, abs_tol=TOLERANCE), (
        f"{name}: expected {expected}, got {actual}"
    )


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[path.stem for path in CASE_FILES])
def test_case(case_file: Path, tmp_path: Path, refresh) -> None:
    case = load_case(case_file)
    data = case["input"]
    events = write_events(
        tmp_path / "events",
        commits=data["changes"],
        deployments=data["deployments"],
        incidents=data["incidents"],
    )
    as_of = data.get("measurement_time") or data["window"]["end"]
    config = {"timezone": data["bucket_timezone"]}
    if data.get("environment_mapping"):
        config["environments"] = {"mapping": data["environment_mapping"]}
    warehouse_file = refresh(events, config=config, as_of=as_of)

    start = datetime.fromisoformat(data["window"]["start"])
    end = datetime.fromisoformat(data["window"]["end"])
    with warehouse.open_warehouse(warehouse_file, read_only=True) as con:
        quarantined = con.execute("select location, reason from quarantine").fetchall()
        assert quarantined == [], f"case rows were quarantined: {quarantined}"
        actual = metrics.window_metrics(con, start, end)
        for name, expected in case["expected"].items():
            if name == "deployments_per_day_if_bucketed_in_UTC":
                utc = metrics.window_metrics(con, start, end, timezone="UTC")
                assert_same(name, expected, utc["deployments_per_day"])
                continue
            assert name in actual, f"{name}: the metrics output has no such name"
            assert_same(name, expected, actual[name])
