"""The file source skips an entity whose files, settings and parser are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from dagster_project import warehouse
from dagster_project.config import parse_config
from dagster_project.sources import files

CONFIG = parse_config({}, Path("."))
COMMIT = {
    "sha": "a1",
    "authored_at": "2024-03-04T09:00:00+00:00",
    "committed_at": "2024-03-04T09:00:00+00:00",
}
DEPLOYMENT = {
    "id": "d1",
    "service": "api",
    "environment": "prod-eu",
    "sha": "a1",
    "status": "success",
    "finished_at": "2024-03-04T10:00:00+00:00",
}


def _write(folder: Path, commits: list[dict], deployments: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "commits.json").write_text(json.dumps(commits))
    (folder / "deployments.json").write_text(json.dumps(deployments))
    return folder


def _loaded_at(con, table: str) -> list:
    query = f"select _loaded_at from {table} order by _record_key"
    return [row[0] for row in con.execute(query).fetchall()]


def test_an_unchanged_folder_is_not_read_again(tmp_path: Path) -> None:
    events = _write(tmp_path / "events", [COMMIT, {**COMMIT, "sha": "bad", "authored_at": "x"}], [])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        first = files.load_events(con, events, CONFIG)
        before = _loaded_at(con, "raw_files__commits")
        second = files.load_events(con, events, CONFIG)
        after = _loaded_at(con, "raw_files__commits")
        quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    assert first.unchanged == {}
    assert set(second.unchanged) == set(files.ENTITIES)
    assert second.rows["commits"] == []
    assert before == after and len(after) == 1
    assert quarantined == 1
    assert second.counts() == first.counts()
    assert second.counts()["commits_loaded"] == 1
    assert second.counts()["commits_quarantined"] == 1


def test_a_changed_file_reloads_only_its_entity(tmp_path: Path) -> None:
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    events = _write(tmp_path / "events", [COMMIT], [DEPLOYMENT])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, config)
        _write(events, [COMMIT, {**COMMIT, "sha": "b2"}], [DEPLOYMENT])
        second = files.load_events(con, events, config)
        commits = con.execute("select sha from raw_files__commits order by sha").fetchall()
    assert "commits" not in second.unchanged
    assert "deployments" in second.unchanged
    assert commits == [("a1",), ("b2",)]


def test_a_changed_environment_mapping_reloads_deployments(tmp_path: Path) -> None:
    events = _write(tmp_path / "events", [COMMIT], [DEPLOYMENT])
    mapped = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        unmapped = files.load_events(con, events, CONFIG)
        remapped = files.load_events(con, events, mapped)
        statuses = con.execute("select count(*) from raw_files__deployment_statuses").fetchone()[0]
        quarantined = con.execute(
            "select count(*) from quarantine where entity = 'deployments'"
        ).fetchone()[0]
    assert unmapped.counts()["deployments_quarantined"] == 1
    assert "deployments" not in remapped.unchanged
    assert "commits" in remapped.unchanged
    assert (statuses, quarantined) == (1, 0)


def test_rows_removed_since_the_last_load_are_loaded_again(tmp_path: Path) -> None:
    events = _write(tmp_path / "events", [COMMIT], [])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, CONFIG)
        con.execute("delete from raw_files__commits where _source = 'files'")
        again = files.load_events(con, events, CONFIG)
        commits = con.execute("select count(*) from raw_files__commits").fetchone()[0]
    assert "commits" not in again.unchanged
    assert commits == 1
