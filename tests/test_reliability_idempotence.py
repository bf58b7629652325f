"""Re-running a refresh, or a refresh killed part-way, leaves exactly the marts of one clean run.

Every table the refresh builds (intermediates, containment, marts) is compared
row by row, with the same ``--as-of``, against the warehouse of one
uninterrupted ``dora refresh``. Wall-clock columns (``built_at``,
``loaded_at``) are left out; everything else must be equal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.reliability_helpers import (
    built_baseline,
    dora_env,
    refresh_command,
    run_refresh,
    snapshot_marts,
)

# Progress lines of `dora refresh`, in the order the steps run.
KILL_POINTS = [
    "files: commits:",
    "dbt: building the staging and deployment models",
    "containment: walking the commit graph",
    "dbt: building the metric models",
]


@pytest.fixture(scope="module")
def baseline() -> tuple[Path, Path, dict]:
    """One uninterrupted refresh of the tiny history: (events, warehouse, mart snapshot)."""
    return built_baseline()


def _raw_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_name like 'raw_%' or table_name = 'quarantine'"
            ).fetchall()
        ]
        return {name: con.execute(f"select count(*) from {name}").fetchone()[0] for name in tables}
    finally:
        con.close()


def test_rerun_changes_no_mart_value(baseline, tmp_path: Path) -> None:
    events, warehouse, expected = baseline
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    raw_before = _raw_counts(copy)

    completed = run_refresh(events, copy, tmp_path / "home")

    assert completed.returncode == 0, completed.stderr
    assert _raw_counts(copy) == raw_before
    assert snapshot_marts(copy) == expected


def _kill_after(
    line_start: str, events: Path, warehouse: Path, home: Path, after: str = ""
) -> list[str]:
    """Start `dora refresh`, SIGKILL it and its children once it prints ``line_start``.

    Returns the progress lines it printed. Killing only the `dora` process
    would leave a running dbt step writing the warehouse, and the next
    refresh would stop with "in use by another process" until that ends.

    With ``after``, only a ``line_start`` line printed after an ``after`` line counts.
    """
    process = subprocess.Popen(
        refresh_command(events, warehouse),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dora_env(DAGSTER_HOME=str(home)),
        # Its own process group, so the kill also reaches the dbt process it started.
        start_new_session=True,
    )
    seen: list[str] = []
    assert process.stderr is not None
    try:
        armed = not after
        for line in process.stderr:
            seen.append(line.rstrip())
            armed = armed or line.startswith(f"[dora] {after}")
            if armed and line.startswith(f"[dora] {line_start}"):
                break
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return seen


def test_refresh_killed_at_each_step_recovers(baseline, tmp_path: Path) -> None:
    """Kill one refresh at each step in turn on the same file, then run it to the end."""
    events, _, expected = baseline
    warehouse = tmp_path / "warehouse.duckdb"
    home = tmp_path / "home"
    for point in KILL_POINTS:
        seen = _kill_after(point, events, warehouse, home)
        assert any(line.startswith(f"[dora] {point}") for line in seen), (point, seen)
        assert warehouse.exists()

    completed = run_refresh(events, warehouse, home)

    assert completed.returncode == 0, completed.stderr
    assert snapshot_marts(warehouse) == expected


def test_kill_during_metric_models_of_built_warehouse_recovers(baseline, tmp_path: Path) -> None:
    """A kill while the marts of an already-built warehouse are rebuilt, with its WAL left."""
    events, warehouse, expected = baseline
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    home = tmp_path / "home"

    seen = _kill_after("dbt: 10 models built", events, copy, home, after=KILL_POINTS[-1])
    assert seen[-1] == "[dora] dbt: 10 models built", seen
    completed = run_refresh(events, copy, home)

    assert completed.returncode == 0, completed.stderr
    assert snapshot_marts(copy) == expected


def _children(pid: int) -> list[int]:
    """Return the pids of the direct children of ``pid`` (Linux /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(text) for text in task.read_text().split()]
    return children


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_alive(pid: int) -> bool:
    """True while ``pid`` runs or is stopped; False once it is gone or a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def _wait_for(condition, what: str, bound: int = 6000) -> None:
    """Poll ``condition`` until it holds, at most ``bound`` times (0.1 s apart)."""
    for _ in range(bound):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the launcher is Linux-only")
def test_parent_only_kill_ends_dbt_step(baseline, tmp_path: Path) -> None:
    """SIGKILL of the `dora` pid only, while its dbt child builds the metric models.

    The dbt child is stopped (SIGSTOP) before the kill. Without a
    parent-death signal it would stay alive and keep the warehouse open for
    as long as the test waits. With it, the kernel kills it with its parent.
    """
    events, _, expected = baseline
    warehouse = tmp_path / "warehouse.duckdb"
    home = tmp_path / "home"
    process = subprocess.Popen(
        refresh_command(events, warehouse),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dora_env(DAGSTER_HOME=str(home)),
        start_new_session=True,
    )
    dbt_pids: list[int] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith(f"[dora] {KILL_POINTS[-1]}"):
                break

        def is_dbt_build(pid: int) -> bool:
            # The launcher (dbt-child-...) sets the parent-death signal, then
            # becomes dbt. Stopped before that, it would have no signal to test.
            command = _command_line(pid)
            return " build " in command and "dbt-child-" not in command

        def dbt_build_started() -> bool:
            dbt_pids[:] = [pid for pid in _children(process.pid) if is_dbt_build(pid)]
            return bool(dbt_pids)

        _wait_for(dbt_build_started, "the dbt build child")
        [dbt_pid] = dbt_pids
        os.kill(dbt_pid, signal.SIGSTOP)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        _wait_for(lambda: not _is_alive(dbt_pid), f"the end of the orphaned dbt pid {dbt_pid}")
    finally:
        for pid in dbt_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)

    completed = run_refresh(events, warehouse, home)

    assert completed.returncode == 0, completed.stderr
    assert snapshot_marts(warehouse) == expected
