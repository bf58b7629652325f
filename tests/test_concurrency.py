"""Two refreshes of one warehouse: one runs, the other stops at once with a clear message.

The refresh lock (``dagster_project.locking``) is an ``fcntl.flock`` on
``<warehouse>.lock`` held for the whole run. Readers of the published copy
(``dagster_project.publish``) never touch the warehouse file or its lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import locking, pipeline, publish
from dagster_project.defs.resources import LockingWarehouseResource, WarehouseResource
from tests.reliability_helpers import (
    built_baseline,
    dora_env,
    refresh_command,
    snapshot_marts,
)

LOCKED_MESSAGE = re.compile(r"another refresh of (\S+) is running \(pid (\d+)\)")


def _hold_lock(warehouse: Path) -> subprocess.Popen[str]:
    """Start a process that holds the refresh lock of ``warehouse`` until killed."""
    code = (
        "import sys, time\n"
        "from dagster_project import locking\n"
        "with locking.warehouse_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def _stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait(timeout=60)


def _locked_message(warehouse: Path) -> re.Match[str]:
    """Try to take the lock of ``warehouse`` while it is held; return the parsed message."""
    with (
        pytest.raises(locking.WarehouseLockedError) as raised,
        locking.warehouse_lock(warehouse),
    ):
        pass
    match = LOCKED_MESSAGE.search(str(raised.value))
    assert match is not None, str(raised.value)
    return match


def test_second_holder_gets_message_with_path_and_pid(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    holder = _hold_lock(warehouse)
    try:
        match = _locked_message(warehouse)
    finally:
        _stop(holder)
    assert match.group(1) == str(warehouse.resolve())
    assert int(match.group(2)) == holder.pid


def test_message_waits_for_holder_pid(tmp_path: Path) -> None:
    """A holder that took the lock but has not yet written its pid is still named."""
    warehouse = tmp_path / "w.duckdb"
    path = locking.lock_path(warehouse)
    with path.open("a+", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        writer = threading.Timer(0.1, lambda: path.write_text("4242\n"))
        writer.start()
        try:
            match = _locked_message(warehouse)
        finally:
            writer.join()
    assert match.group(2) == "4242"


def test_lock_of_killed_holder_is_free(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    holder = _hold_lock(warehouse)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)

    assert locking.lock_path(warehouse).exists()
    with locking.warehouse_lock(warehouse) as path:
        assert path.read_text().strip() == str(os.getpid())


def test_lock_is_reentrant_in_one_thread_but_not_across_threads(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            with locking.warehouse_lock(warehouse):
                pass
        except locking.WarehouseLockedError as error:
            errors.append(error)

    with locking.warehouse_lock(warehouse), locking.warehouse_lock(warehouse):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert "another refresh of" in str(errors[0])
    # Released completely: another thread can take it now.
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_run_refresh_job_refuses_a_locked_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    holder = _hold_lock(warehouse)
    try:
        with pytest.raises(locking.WarehouseLockedError):
            pipeline.run_refresh_job(str(warehouse), {})
    finally:
        _stop(holder)
    assert not warehouse.exists(), "the refused run must not create or touch the warehouse"


def _run_texts(result) -> str:
    """Every event message and error text of a run, joined."""
    texts = []
    for event in result.all_events:
        texts.append(event.message or "")
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            texts.append(error.to_string())
    return "\n".join(texts)


def test_job_run_refuses_locked_warehouse(tmp_path: Path) -> None:
    """A run launched as the daemon launches it (the job itself, not run_refresh_job)."""
    from dagster_project.definitions import REFRESH_ALL, defs

    warehouse = tmp_path / "w.duckdb"
    job = defs.resolve_job_def(REFRESH_ALL)
    run_config = {"resources": {"warehouse": {"config": {"path": str(warehouse)}}}}
    holder = _hold_lock(warehouse)
    try:
        result = job.execute_in_process(
            run_config=run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
    finally:
        _stop(holder)
    assert not result.success
    match = LOCKED_MESSAGE.search(_run_texts(result))
    assert match is not None, _run_texts(result)[-2000:]
    assert int(match.group(2)) == holder.pid
    assert not [event for event in result.all_events if event.is_step_start], "no step may start"
    assert not warehouse.exists(), "the refused run must not create or touch the warehouse"


def test_run_holds_the_lock_until_it_ends(tmp_path: Path) -> None:
    """Another process cannot take the lock while a step of a run executes."""
    warehouse = tmp_path / "w.duckdb"
    probe = (
        "import sys\n"
        "from dagster_project import locking\n"
        "try:\n"
        "    with locking.warehouse_lock(sys.argv[1]):\n"
        "        print('free')\n"
        "except locking.WarehouseLockedError as error:\n"
        "    print(error)\n"
    )

    def try_lock() -> str:
        completed = subprocess.run(
            [sys.executable, "-c", probe, str(warehouse)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return completed.stdout.strip()

    seen: list[str] = []

    @dg.asset
    def probe_asset(warehouse: WarehouseResource) -> None:
        seen.append(try_lock())

    @dg.asset(deps=[probe_asset])
    def later_asset(warehouse: WarehouseResource) -> None:
        seen.append(try_lock())

    resource = LockingWarehouseResource(path=str(warehouse))
    result = dg.materialize([probe_asset, later_asset], resources={"warehouse": resource})
    assert result.success
    assert len(seen) == 2
    for text in seen:
        match = LOCKED_MESSAGE.search(text)
        assert match is not None, text
        assert int(match.group(2)) == os.getpid()
    assert try_lock() == "free"


def test_breach_sensor_skips_locked_warehouse(tmp_path: Path) -> None:
    """The breach sensor writes the warehouse, so it skips its tick while a refresh runs."""
    from dagster_project.contract import load_contracts
    from dagster_project.defs.contract import process_breach_tick

    warehouse = tmp_path / "w.duckdb"
    cursor = '{"storage_id": 1, "pending": 0}'
    holder = _hold_lock(warehouse)
    try:
        result = process_breach_tick(
            str(warehouse), load_contracts(), cursor, 2, logging.getLogger("test")
        )
    finally:
        _stop(holder)
    assert result.cursor == cursor, "the next tick must process the refresh again"
    assert result.recorded == 0
    match = LOCKED_MESSAGE.search(result.skipped_reason or "")
    assert match is not None, result.skipped_reason
    assert int(match.group(2)) == holder.pid
    assert not warehouse.exists()


def test_dora_refresh_refuses_a_locked_warehouse(tmp_path: Path) -> None:
    events, _, _ = built_baseline()
    warehouse = tmp_path / "w.duckdb"
    holder = _hold_lock(warehouse)
    try:
        completed = subprocess.run(
            refresh_command(events, warehouse),
            capture_output=True,
            text=True,
            env=dora_env(DAGSTER_HOME=str(tmp_path / "home")),
            timeout=900,
            check=False,
        )
    finally:
        _stop(holder)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    match = LOCKED_MESSAGE.search(completed.stderr)
    assert match is not None, completed.stderr
    assert int(match.group(2)) == holder.pid


def test_two_refreshes_at_once_one_wins_and_marts_match(tmp_path: Path) -> None:
    events, _, expected = built_baseline()
    warehouse = tmp_path / "w.duckdb"
    processes = [
        subprocess.Popen(
            refresh_command(events, warehouse),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dora_env(DAGSTER_HOME=str(tmp_path / f"home{index}")),
        )
        for index in range(2)
    ]
    results = [(process.pid, *process.communicate(timeout=900)) for process in processes]
    codes = sorted(process.returncode for process in processes)

    assert codes == [0, 1], results
    loser = next(
        result for process, result in zip(processes, results, strict=True) if process.returncode
    )
    winner = next(process for process in processes if process.returncode == 0)
    match = LOCKED_MESSAGE.search(loser[2])
    assert match is not None, loser[2]
    assert int(match.group(2)) == winner.pid
    assert snapshot_marts(warehouse) == expected


READER = """
import sys, duckdb
path, stop = sys.argv[1], sys.argv[2]
import os
reads = errors = 0
while reads < 20 or not os.path.exists(stop):
    try:
        con = duckdb.connect(path, read_only=True)
        con.execute("select count(*) from fct_deployments").fetchone()
        con.close()
        reads += 1
    except Exception as error:
        errors += 1
        print(type(error).__name__, error, flush=True)
print("reads", reads, "errors", errors, flush=True)
"""


def test_readers_of_published_marts_never_see_a_lock(tmp_path: Path) -> None:
    """While a writer holds the warehouse and publishes repeat, readers keep reading."""
    _, built, _ = built_baseline()
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(built, warehouse)
    folder = tmp_path / "published"
    publish.publish_marts(warehouse, folder)
    database = folder / publish.DATABASE_NAME
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(database), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(5):
            publish.publish_marts(warehouse, folder)
        # A refresh holds the warehouse for writing; the published copy stays readable.
        with duckdb.connect(str(warehouse)) as writer:
            writer.execute("create or replace table refresh_in_progress as select 1 as x")
            with duckdb.connect(str(database), read_only=True) as con:
                assert con.execute("select count(*) from fct_deployments").fetchone()[0] > 0
    finally:
        stop.touch()
        output, _ = reader.communicate(timeout=300)
    assert output.strip().endswith("errors 0"), output
