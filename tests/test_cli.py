"""The dora command: exit codes, messages, the summary and the metrics JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TESTS_DIR, write_events

DORA = [sys.executable, "-m", "dagster_project.cli"]


def dora(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DORA, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["refresh", "--as-of", "2024-01-01T00:00:00"], "has no UTC offset"),
        (["refresh", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["refresh", "--events", "/nonexistent/events"], "events folder not found"),
        (["refresh", "--git-repo", "/nonexistent/repo"], "git repository not found"),
        (["refresh", "--config", "/nonexistent/dora.yml"], "configuration file not found"),
        (["sample", "--out", "/tmp/dora-sample-unused", "--scale", "0"], "scale must be in (0, 1]"),
        (
            [
                "metrics",
                "--warehouse",
                "/nonexistent/w.duckdb",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
            ],
            "warehouse not found",
        ),
    ],
)
def test_bad_arguments_exit_with_message(args: list[str], message: str) -> None:
    completed = dora(*args)
    assert completed.returncode == 1
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_invalid_config_names_every_field(tmp_path: Path) -> None:
    config = tmp_path / "dora.yml"
    config.write_text(
        "timezone: Nowhere/City\nhotfix: {window_hours: -1}\ncolour: blue\nsources: {filez: {path: x}}\n"
    )
    completed = dora("refresh", "--config", str(config), "--warehouse", str(tmp_path / "w.duckdb"))
    assert completed.returncode == 1
    assert "timezone: unknown time zone 'Nowhere/City'" in completed.stderr
    assert "hotfix.window_hours: invalid value -1" in completed.stderr
    assert "colour: unknown setting" in completed.stderr
    assert "sources.filez: unknown source" in completed.stderr


def test_locked_warehouse_reported(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(warehouse)!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        completed = dora("refresh", "--warehouse", str(warehouse))
    finally:
        holder.kill()
        holder.wait()
    assert completed.returncode == 1
    assert "is in use by another process" in completed.stderr


@pytest.fixture(scope="module")
def built_warehouse(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Refresh a two-service case through the command line once for this module."""
    case = json.loads((TESTS_DIR / "cases" / "C21.json").read_text())["input"]
    root = tmp_path_factory.mktemp("cli")
    events = write_events(
        root / "events",
        commits=case["changes"],
        deployments=case["deployments"],
        incidents=case["incidents"],
    )
    warehouse = root / "w.duckdb"
    completed = dora(
        "refresh",
        "--events",
        str(events),
        "--warehouse",
        str(warehouse),
        "--as-of",
        case["measurement_time"],
    )
    return warehouse, completed


def test_refresh_prints_summary(built_warehouse) -> None:
    warehouse, completed = built_warehouse
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("DORA summary, ")
    assert any(line.startswith("svc-a ") for line in lines)
    assert any(line.startswith("svc-b ") for line in lines)
    assert any(line.startswith("all services ") for line in lines)
    assert f"Warehouse: {warehouse}" in lines
    assert "Rows in quarantine: 0" in lines


def test_refresh_summary_equals_warehouse(built_warehouse) -> None:
    # The command prints the text that the run's summary step stored, so that
    # text must equal the summary computed from the finished warehouse.
    from dagster_project import summary
    from dagster_project.warehouse import open_warehouse

    warehouse, completed = built_warehouse
    assert completed.returncode == 0, completed.stderr
    with open_warehouse(warehouse, read_only=True) as con:
        expected = summary.format_summary(con, str(warehouse))
    assert completed.stdout == expected + "\n"


def test_metrics_prints_one_json_object(built_warehouse) -> None:
    warehouse, _ = built_warehouse
    completed = dora(
        "metrics", "--warehouse", str(warehouse), "--start", "2023-11-26", "--end", "2023-11-28"
    )
    assert completed.returncode == 0, completed.stderr
    values = json.loads(completed.stdout)
    # a0 and b0 are the services' baselines: counted, and eligible for the failure rate.
    assert values["deployments_per_day"] == {"2023-11-26": 2, "2023-11-27": 2}
    assert values["deployments_total"] == 4
    assert values["change_failure_rate"] == 0.25
    by_service = json.loads(
        dora(
            "metrics",
            "--warehouse",
            str(warehouse),
            "--start",
            "2023-11-27",
            "--end",
            "2023-11-28",
            "--service",
            "svc-a",
        ).stdout
    )
    assert by_service["deployments_total"] == 1
    assert by_service["change_failure_rate"] == 0.0


def test_metrics_rejects_unknown_service(built_warehouse) -> None:
    warehouse, _ = built_warehouse
    completed = dora(
        "metrics",
        "--warehouse",
        str(warehouse),
        "--start",
        "2023-11-27",
        "--end",
        "2023-11-28",
        "--service",
        "nosuch",
    )
    assert completed.returncode == 1
    assert "unknown service 'nosuch'; known services: svc-a, svc-b" in completed.stderr


def test_metrics_rejects_reversed_window(built_warehouse) -> None:
    warehouse, _ = built_warehouse
    completed = dora(
        "metrics", "--warehouse", str(warehouse), "--start", "2023-11-28", "--end", "2023-11-27"
    )
    assert completed.returncode == 1
    assert "must be after --start" in completed.stderr


def test_metrics_reads_while_no_writer(built_warehouse) -> None:
    warehouse, _ = built_warehouse
    with duckdb.connect(str(warehouse), read_only=True):
        completed = dora(
            "metrics", "--warehouse", str(warehouse), "--start", "2023-11-27", "--end", "2023-11-28"
        )
    assert completed.returncode == 0, completed.stderr
