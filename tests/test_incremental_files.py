"""The file source skips unchanged entities and keeps the load time of unchanged rows.

An entity whose files, settings and parser are unchanged is not read again.
A changed entity is stored by record key: rows equal to a stored row keep
their ``_loaded_at``, new and changed rows get the new load time, and rows
whose record left the files are deleted.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dagster_project import warehouse
from dagster_project.config import parse_config
from dagster_project.sources import files, files_upsert

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


def _write_jsonl(path: Path, items: list[dict]) -> None:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))


def _write_csv(path: Path, items: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(items[0]))
        writer.writeheader()
        writer.writerows(items)


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


def _stored(con, table: str) -> dict[str, tuple]:
    """Map each file-source record key of ``table`` to its ``_loaded_at`` and payload."""
    rows = con.execute(
        f"select _record_key, _loaded_at, _payload from {table} where _source = 'files'"
    ).fetchall()
    return {key: (loaded_at, payload) for key, loaded_at, payload in rows}


def _content(con, table: str) -> list[tuple]:
    return con.execute(f"select * exclude (_loaded_at) from {table} order by all").fetchall()


def _reload_whole(folder: Path, path: Path, config=CONFIG) -> dict[str, list[tuple]]:
    """Load ``folder`` into a new warehouse and return each raw table without ``_loaded_at``."""
    with warehouse.open_warehouse(path) as con:
        files.load_events(con, folder, config)
        return {table: _content(con, table) for table in files.RAW_TABLE_OF.values()}


def _commit(sha: str, subject: str = "work") -> dict:
    return {**COMMIT, "sha": sha, "subject": subject}


@pytest.mark.parametrize("name", ["commits.jsonl", "commits.csv"])
def test_upsert_keeps_unchanged_rows(tmp_path: Path, name: str) -> None:
    """The SQL pass (JSON Lines) and the Python reader (CSV) store rows the same way."""
    events = tmp_path / "events"
    events.mkdir()
    write = _write_jsonl if name.endswith(".jsonl") else _write_csv
    write(events / name, [_commit("a1"), _commit("b2"), _commit("c3")])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, CONFIG)
        before = _stored(con, "raw_files__commits")
        write(events / name, [_commit("a1"), _commit("b2", "edited"), _commit("d4")])
        extract = files.load_events(con, events, CONFIG)
        after = _stored(con, "raw_files__commits")
        content = _content(con, "raw_files__commits")
    assert set(after) == {"default:a1", "default:b2", "default:d4"}
    assert after["default:a1"] == before["default:a1"]
    assert after["default:b2"][0] > before["default:b2"][0]
    assert after["default:d4"][0] == after["default:b2"][0]
    assert extract.upserts["commits"] == files_upsert.UpsertCounts(kept=1, inserted=2, deleted=2)
    assert extract.counts()["commits_loaded"] == 3
    assert content == _reload_whole(events, tmp_path / "whole.duckdb")["raw_files__commits"]


def test_upsert_replaces_changed_deployment_rows(tmp_path: Path) -> None:
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    second = {**DEPLOYMENT, "id": "d2", "finished_at": "2024-03-04T12:00:00+00:00"}
    events = _write(tmp_path / "events", [COMMIT], [DEPLOYMENT, second])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, config)
        before = _stored(con, "raw_files__deployment_statuses")
        _write(events, [COMMIT], [DEPLOYMENT, {**second, "status": "failure"}])
        files.load_events(con, events, config)
        after = _stored(con, "raw_files__deployment_statuses")
        content = _content(con, "raw_files__deployment_statuses")
    [first_key] = [key for key in before if key.startswith("d1|")]
    [second_key] = [key for key in before if key.startswith("d2|")]
    assert set(after) == set(before)
    assert after[first_key] == before[first_key]
    assert after[second_key][0] > before[second_key][0]
    assert '"failure"' in after[second_key][1]
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert content == whole["raw_files__deployment_statuses"]


def test_upsert_moves_records_through_quarantine(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    broken = {**_commit("b2"), "authored_at": "yesterday"}
    _write_jsonl(events / "commits.jsonl", [_commit("a1"), broken])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, CONFIG)
        first = con.execute("select location from quarantine").fetchall()
        # b2 was fixed in the file, and a1 broke.
        _write_jsonl(events / "commits.jsonl", [{**_commit("a1"), "sha": ""}, _commit("b2")])
        files.load_events(con, events, CONFIG)
        second = con.execute("select location, reason from quarantine").fetchall()
        stored = sorted(_stored(con, "raw_files__commits"))
    assert first == [("commits.jsonl:2",)]
    assert len(second) == 1
    assert second[0][0] == "commits.jsonl:1"
    assert "sha" in second[0][1]
    assert stored == ["default:b2"]


def test_upsert_replaces_whole_on_repeated_keys(tmp_path: Path) -> None:
    """Two deployment files can give two rows one key, so the entity is replaced whole."""
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    events = _write(tmp_path / "events", [COMMIT], [DEPLOYMENT])
    _write_jsonl(events / "deployments.jsonl", [DEPLOYMENT])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, config)
        _write_jsonl(events / "deployments.jsonl", [{**DEPLOYMENT, "status": "failure"}])
        extract = files.load_events(con, events, config)
        content = _content(con, "raw_files__deployment_statuses")
        states = con.execute("select state from raw_files__deployment_statuses order by all")
        states = [state for (state,) in states.fetchall()]
    assert extract.upserts["deployments"] == files_upsert.UpsertCounts(
        kept=0, inserted=2, deleted=2
    )
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert content == whole["raw_files__deployment_statuses"]
    assert states == ["failure", "success"]


def test_reused_record_repeated_is_quarantined(tmp_path: Path) -> None:
    """A record whose text matches a stored row is reused, but a repeat of it is a duplicate."""
    events = tmp_path / "events"
    events.mkdir()
    _write_jsonl(events / "commits.jsonl", [_commit("a1"), _commit("b2")])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, CONFIG)
        before = _stored(con, "raw_files__commits")
        _write_jsonl(events / "commits.jsonl", [_commit("a1"), _commit("b2"), _commit("b2")])
        extract = files.load_events(con, events, CONFIG)
        after = _stored(con, "raw_files__commits")
        content = _content(con, "raw_files__commits")
        quarantine = con.execute("select location, reason from quarantine").fetchall()
    assert after["default:a1"] == before["default:a1"]
    # The repeated key sends both b2 records to the Python validator, whose payload
    # has sorted keys, as in a full reload.
    assert after["default:b2"][1] != before["default:b2"][1]
    assert extract.upserts["commits"] == files_upsert.UpsertCounts(kept=1, inserted=1, deleted=1)
    assert len(quarantine) == 1
    assert quarantine[0][0] == "commits.jsonl:3"
    assert "duplicate default:b2: identical" in quarantine[0][1]
    assert content == _reload_whole(events, tmp_path / "whole.duckdb")["raw_files__commits"]


def _reusable_relations(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Record, per SQL load, the relation of stored rows that records may reuse, or None."""
    relations: list[str | None] = []
    stage_files = files.files_sql.stage_files

    def record_stage(con, paths, entity, reusable=None):
        relations.append(reusable)
        stage_files(con, paths, entity, reusable)

    monkeypatch.setattr(files.files_sql, "stage_files", record_stage)
    return relations


def test_reuse_needs_the_same_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = tmp_path / "events"
    events.mkdir()
    _write_jsonl(events / "commits.jsonl", [_commit("a1")])
    stored_rows = _reusable_relations(monkeypatch)
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, CONFIG)
        _write_jsonl(events / "commits.jsonl", [_commit("a1"), _commit("b2")])
        files.load_events(con, events, CONFIG)
        monkeypatch.setattr(files, "code_fingerprint", lambda: "other code")
        _write_jsonl(events / "commits.jsonl", [_commit("a1")])
        files.load_events(con, events, CONFIG)
    assert stored_rows[0] is None
    assert stored_rows[1] is not None
    assert stored_rows[2] is None


def _kept_row_counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record, per SQL load, how many stored rows the reused records keep."""
    counts: list[int] = []
    keep_reused = files.files_sql.keep_reused

    def record_kept(con) -> str:
        table = keep_reused(con)
        counts.append(con.execute(f"select count(*) from {table}").fetchone()[0])
        return table

    monkeypatch.setattr(files.files_sql, "keep_reused", record_kept)
    return counts


def test_deployments_reuse_rows_at_same_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment record reuses its stored rows only where its text and position are the same."""
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    history = [
        {"state": "in_progress", "at": "2024-03-04T11:00:00+00:00"},
        {"state": "success", "at": "2024-03-04T11:30:00+00:00"},
    ]
    first = DEPLOYMENT
    second = {**DEPLOYMENT, "id": "d2", "status_history": history}
    third = {**DEPLOYMENT, "id": "d3", "finished_at": "2024-03-05T10:00:00+00:00"}

    events = tmp_path / "events"
    events.mkdir()
    path = events / "deployments.jsonl"
    kept_counts = _kept_row_counts(monkeypatch)
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        _write_jsonl(path, [first, second])
        files.load_events(con, events, config)
        before = _stored(con, "raw_files__deployment_statuses")
        # Appended: both earlier records keep their three rows.
        _write_jsonl(path, [first, second, third])
        files.load_events(con, events, config)
        after = _stored(con, "raw_files__deployment_statuses")
        appended = _content(con, "raw_files__deployment_statuses")
        # Inserted in front: every record moves, so none reuses a row.
        _write_jsonl(path, [third, first, second])
        files.load_events(con, events, config)
        moved = _content(con, "raw_files__deployment_statuses")
    # The first load has no stored rows to keep, so it inserts without that step.
    assert kept_counts == [3, 0]
    assert all(after[key] == value for key, value in before.items())
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert moved == whole["raw_files__deployment_statuses"]
    _write_jsonl(path, [first, second, third])
    appended_whole = _reload_whole(events, tmp_path / "appended.duckdb", config)
    assert appended == appended_whole["raw_files__deployment_statuses"]


def test_deployment_reuse_needs_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other environment settings may quarantine other records, so no stored row is reused."""
    mapped = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    renamed = parse_config({"environments": {"mapping": {"prod-eu": "prod"}}}, Path("."))
    events = tmp_path / "events"
    events.mkdir()
    path = events / "deployments.jsonl"
    stored_rows = _reusable_relations(monkeypatch)
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        _write_jsonl(path, [DEPLOYMENT])
        files.load_events(con, events, mapped)
        _write_jsonl(path, [DEPLOYMENT, {**DEPLOYMENT, "id": "d2"}])
        files.load_events(con, events, renamed)
        _write_jsonl(path, [DEPLOYMENT, {**DEPLOYMENT, "id": "d2"}, {**DEPLOYMENT, "id": "d3"}])
        files.load_events(con, events, renamed)
    assert len(stored_rows) == 3
    assert stored_rows[0] is None
    assert stored_rows[1] is None
    assert "position" in stored_rows[2]


def test_copy_in_second_file_stored(tmp_path: Path) -> None:
    """The same deployment at the same position of two files gets rows in both, as in a new load."""
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    events = tmp_path / "events"
    events.mkdir()
    _write_jsonl(events / "deployments.jsonl", [DEPLOYMENT])
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, config)
        (events / "deployments.json").write_text(json.dumps([DEPLOYMENT]))
        files.load_events(con, events, config)
        content = _content(con, "raw_files__deployment_statuses")
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert len(content) == 2
    assert content == whole["raw_files__deployment_statuses"]


def test_long_history_keeps_every_row(tmp_path: Path) -> None:
    """A reused deployment record keeps all its status rows, including those after the first 1,000."""
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    history = [
        {"state": "in_progress", "at": f"2024-03-04T10:{minute % 60:02d}:00+00:00"}
        for minute in range(1003)
    ]
    long_lived = {**DEPLOYMENT, "status_history": history}
    events = tmp_path / "events"
    events.mkdir()
    path = events / "deployments.jsonl"
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        _write_jsonl(path, [long_lived])
        files.load_events(con, events, config)
        _write_jsonl(path, [long_lived, {**DEPLOYMENT, "id": "d2"}])
        files.load_events(con, events, config)
        content = _content(con, "raw_files__deployment_statuses")
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert len(content) == 1004
    assert content == whole["raw_files__deployment_statuses"]


def test_moved_deployments_copy_their_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records that moved in the file copy their stored rows with the new position, unchecked.

    The moved records include one with more than 1,000 status rows and the same
    text twice. Two are checked again: a record quarantined before, which has no
    rows to copy, and one that the Python validator read (its id needs
    trimming), whose stored payload is Python's serialisation with sorted keys.
    """
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    history = [
        {"state": "in_progress", "at": f"2024-03-04T10:{minute % 60:02d}:00+00:00"}
        for minute in range(1003)
    ]
    plain = DEPLOYMENT
    trimmed = {**DEPLOYMENT, "id": " d2 "}
    long_lived = {**DEPLOYMENT, "id": "d3", "status_history": history}
    unknown = {**DEPLOYMENT, "id": "d4", "environment": "moon"}
    new = {**DEPLOYMENT, "id": "d5"}
    earlier = [plain, trimmed, long_lived, plain, unknown]
    events = tmp_path / "events"
    events.mkdir()
    path = events / "deployments.jsonl"
    moved_rows: list[int] = []
    checked: list[int] = []
    insert_moved = files.files_sql.files_reuse.insert_moved
    check_records = files.files_sql.check_records

    def record_moved(con, table, columns, bookkeeping) -> int:
        moved_rows.append(insert_moved(con, table, columns, bookkeeping))
        return moved_rows[-1]

    def record_checked(con, entity, config) -> None:
        check_records(con, entity, config)
        query = f"select count(*) from {files.files_sql.CHECKED_TABLE} where not reused"
        checked.append(con.execute(query).fetchone()[0])

    monkeypatch.setattr(files.files_sql.files_reuse, "insert_moved", record_moved)
    monkeypatch.setattr(files.files_sql, "check_records", record_checked)
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        _write_jsonl(path, earlier)
        files.load_events(con, events, config)
        before = _stored(con, "raw_files__deployment_statuses")
        _write_jsonl(path, [new, *earlier])
        extract = files.load_events(con, events, config)
        content = _content(con, "raw_files__deployment_statuses")
        after = _stored(con, "raw_files__deployment_statuses")
        quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert content == whole["raw_files__deployment_statuses"]
    assert len(content) == 1 + 1 + 1 + 1003 + 1
    # The first load copies nothing: it has no stored rows.
    assert moved_rows == [0, 1 + 1003 + 1, 0]
    assert checked == [len(earlier), 3, len(earlier) + 1]
    assert quarantined == 1
    assert [row["deployment_id"] for row in extract.rows["deployments"]] == ["d2"]
    # Every key names the new position, so no stored row is kept.
    assert not set(before) & set(after)


def test_no_reuse_after_several_files(tmp_path: Path) -> None:
    """Rows stored from several deployment files are not reused, as they may be partial.

    The invalid line makes DuckDB reject the JSON Lines file, so the Python
    reader reads both files and keeps the last row of each repeated key: the
    stored record with three statuses keeps two rows. Its text is written with
    sorted keys, as the Python reader stores it, so that it could be reused.
    """
    config = parse_config({"environments": {"mapping": {"prod-eu": "production"}}}, Path("."))
    history = [{"state": "in_progress", "at": f"2024-03-04T10:0{i}:00+00:00"} for i in range(3)]
    three = json.dumps({**DEPLOYMENT, "status_history": history}, sort_keys=True)
    other = json.dumps({**DEPLOYMENT, "id": "other"}, sort_keys=True)
    events = tmp_path / "events"
    events.mkdir()
    (events / "deployments.json").write_text(f"[{three}]")
    (events / "deployments.jsonl").write_text(json.dumps(DEPLOYMENT) + "\n{bad\n")
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, events, config)
        stored = _content(con, "raw_files__deployment_statuses")
        (events / "deployments.jsonl").unlink()
        (events / "deployments.json").write_text(f"[{other}, {three}]")
        files.load_events(con, events, config)
        content = _content(con, "raw_files__deployment_statuses")
    whole = _reload_whole(events, tmp_path / "whole.duckdb", config)
    assert len(stored) == 3
    assert len(content) == 4
    assert content == whole["raw_files__deployment_statuses"]
