"""The SQLite event log keeps its connections and still stores every event (event_log.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME

from dagster_project import event_log, run_history, settings


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"count": 3}, check_results=[dg.AssetCheckResult(passed=True)]
    )


JOB = dg.define_asset_job("numbers_job", selection=[numbers])
DEFS = dg.Definitions(assets=[numbers], jobs=[JOB])


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    settings.dagster_home()
    with dg.DagsterInstance.get() as instance:
        yield instance


def _run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = DEFS.resolve_job_def("numbers_job").execute_in_process(instance=instance)
    assert result.success
    return result


def _engines_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    original = event_log.create_engine

    def counting(url, **kwargs):
        built.append(str(url))
        return original(url, **kwargs)

    monkeypatch.setattr(event_log, "create_engine", counting)
    return built


def test_default_home_stores_events_in_history_runs(instance, tmp_path):
    assert type(instance.event_log_storage) is event_log.SqliteEventLog
    result = _run(instance)
    assert (tmp_path / "history" / "runs" / f"{result.run_id}.db").is_file()
    materialization = instance.get_latest_materialization_event(dg.AssetKey("numbers"))
    assert materialization is not None
    assert materialization.run_id == result.run_id
    assert materialization.asset_materialization.metadata["count"].value == 3
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")]
    )
    assert len(check) == 1
    kinds = {record.dagster_event.event_type_value for record in instance.all_logs(result.run_id)
             if record.dagster_event}  # fmt: skip
    assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "PIPELINE_SUCCESS"} <= kinds


def test_one_engine_per_file_per_run(instance, monkeypatch):
    built = _engines_built(monkeypatch)
    result = _run(instance)
    events = len(instance.all_logs(result.run_id))
    assert events >= 10
    # At most one engine for the run's own file and one for the index file
    # (which the instance may have opened before the run), not one per event.
    storage = instance.event_log_storage
    assert storage.conn_string_for_shard(result.run_id) in built
    assert set(built) <= {
        storage.conn_string_for_shard(result.run_id),
        storage.conn_string_for_shard(INDEX_SHARD_NAME),
    }
    assert len(built) == len(set(built)), built


def test_kept_engines_are_bounded(instance):
    for _ in range(event_log.KEEP_ENGINES + 2):
        _run(instance)
    assert len(instance.event_log_storage._engines) == event_log.KEEP_ENGINES


def test_connections_use_synchronous_normal(instance):
    _run(instance)
    with instance.event_log_storage.index_connection() as connection:
        level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    assert level == 1  # NORMAL
    path = instance.event_log_storage.path_for_shard(INDEX_SHARD_NAME)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_deleted_run_file_created_again(instance, monkeypatch):
    first = _run(instance)
    storage = instance.event_log_storage
    run_history._delete_run(instance, first.run_id)
    assert not Path(storage.path_for_shard(first.run_id)).exists()
    built = _engines_built(monkeypatch)
    # A write to the deleted file's run id makes a new, initialised file.
    instance.report_engine_event("after deletion", dg.DagsterRun(job_name="x", run_id=first.run_id))
    messages = [record.dagster_event.message for record in instance.all_logs(first.run_id)]
    assert messages == ["after deletion"]
    assert built == [storage.conn_string_for_shard(first.run_id)]


def test_wipe_then_run_again(instance):
    first = _run(instance)
    instance.wipe()
    assert instance.all_logs(first.run_id) == []
    second = _run(instance)
    assert instance.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == (
        second.run_id
    )


def test_forked_process_builds_own_engines(instance, monkeypatch):
    _run(instance)
    storage = instance.event_log_storage
    parent_engines = [engine for engine, _ in storage._engines.values()]
    # As seen from a forked child: the process id differs from the one that
    # built the engines.
    monkeypatch.setattr(storage, "_engines_pid", -1)
    built = _engines_built(monkeypatch)
    second = _run(instance)
    assert storage.conn_string_for_shard(INDEX_SHARD_NAME) in built
    assert len(built) == len(set(built)) == 2
    assert not {id(engine) for engine, _ in storage._engines.values()} & set(
        map(id, parent_engines)
    )
    assert instance.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == (
        second.run_id
    )
