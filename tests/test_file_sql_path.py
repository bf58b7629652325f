"""The SQL pass of the file load stores and quarantines exactly what the Python validator does.

Each test loads one events folder twice: with ``files.load_events``, where
DuckDB checks and loads the clean JSON and JSON Lines records, and with
``files.read_events`` plus a plain bulk load, where Python validates every
record. The raw tables (without ``_loaded_at`` and ``_payload``) and the
quarantine rows must be equal.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project import warehouse
from dagster_project.config import parse_config
from dagster_project.sources import files
from tests.test_properties_files import records, write_file

CONFIG = parse_config(
    {"environments": {"mapping": {"production-aws": "production"}, "non_production": ["qa"]}},
    Path("."),
)
COMMIT = {
    "repo": "api",
    "sha": "c1",
    "parent_shas": ["c0"],
    "authored_at": "2024-03-04T09:00:00+01:00",
    "committed_at": "2024-03-04T09:05:00Z",
}
PULL_REQUEST = {"repo": "api", "number": 7, "opened_at": "2024-03-04T08:00:00Z", "labels": []}
DEPLOYMENT = {
    "id": "d1",
    "service": "api",
    "environment": "production",
    "sha": "c1",
    "status": "success",
    "started_at": "2024-03-04T10:50:00+00:00",
    "finished_at": "2024-03-04T11:00:00+00:00",
}


def _table_rows(con, table: str) -> list[tuple]:
    return con.execute(
        f"select * exclude (_loaded_at, _payload) from {table} order by all"
    ).fetchall()


def _quarantine(con) -> list[tuple]:
    return con.execute(
        "select entity, location, reason, raw_content from quarantine order by all"
    ).fetchall()


def load_both(folder: Path, workdir: Path) -> tuple[dict, dict, files.FileExtract]:
    """Load ``folder`` through ``load_events`` and through Python alone; return both results."""
    results = []
    with warehouse.open_warehouse(workdir / "sql.duckdb") as con:
        extract = files.load_events(con, folder, CONFIG)
        results.append(
            {
                "tables": {t: _table_rows(con, t) for t in files.RAW_TABLE_OF.values()},
                "quarantine": _quarantine(con),
            }
        )
    python = files.read_events(folder, CONFIG)
    with warehouse.open_warehouse(workdir / "python.duckdb") as con:
        warehouse.ensure_raw_tables(con)
        for entity, table in files.RAW_TABLE_OF.items():
            warehouse.replace_source_rows(con, table, files.SOURCE, python.rows[entity])
            warehouse.quarantine_rows(con, files.SOURCE, entity, python.rejected[entity])
        results.append(
            {
                "tables": {t: _table_rows(con, t) for t in files.RAW_TABLE_OF.values()},
                "quarantine": _quarantine(con),
            }
        )
    return results[0], results[1], extract


BLANK_LINE = object()


def write_jsonl(folder: Path, name: str, items: list[Any]) -> None:
    """Write one JSON line per item, and an empty line for each ``BLANK_LINE``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["" if item is BLANK_LINE else json.dumps(item) for item in items]
    (folder / name).write_text("".join(line + "\n" for line in lines))


def test_clean_records_skip_python(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "events", "commits.jsonl", [COMMIT, {**COMMIT, "sha": "c2"}])
    sql, python, extract = load_both(tmp_path / "events", tmp_path)
    assert extract.rows["commits"] == []
    assert extract.counts()["commits_loaded"] == 2
    assert sql == python


def test_rejected_record_keeps_python_reason(tmp_path: Path) -> None:
    items = [COMMIT, {**COMMIT, "sha": "c2", "authored_at": "2024-03-04T09:00:00"}]
    write_jsonl(tmp_path / "events", "commits.jsonl", [BLANK_LINE, *items])
    sql, python, _ = load_both(tmp_path / "events", tmp_path)
    [(entity, location, reason, raw)] = sql["quarantine"]
    assert entity == "commits"
    assert location == "commits.jsonl:3"
    assert "authored_at: timestamp '2024-03-04T09:00:00' has no UTC offset" in reason
    assert json.loads(raw)["sha"] == "c2"
    assert sql == python


def test_odd_commit_fields_match_python(tmp_path: Path) -> None:
    items = [
        {**COMMIT, "sha": " c1 ", "is_bot": "yes"},
        {**COMMIT, "sha": "c2", "repo": "   ", "pr_number": "#12"},
        {**COMMIT, "sha": "c3", "message": "\nsecond line"},
        {**COMMIT, "sha": "c4", "message": "Revert x\u2028This reverts commit ABCDEF12."},
        {**COMMIT, "sha": "c5", "message": "T\x85tail", "reverted_sha": "FFEE"},
        {**COMMIT, "sha": "c6", "subject": "caf\u00e9", "parent_shas": ['a"b', "c\\d"]},
        {**COMMIT, "sha": "c7", "parent_shas": "p1;p2 p3", "pr_created_as_draft": 1},
        {**COMMIT, "sha": "c8", "authored_at": "2024-02-30T09:00:00Z"},
        {**COMMIT, "sha": "c9", "authored_at": "2024-03-04T09:00:00.1234567+05:30"},
        {**COMMIT, "sha": "c10", "pr_number": 2**31},
        {**COMMIT, "sha": "c11", "pr_number": 3.0},
        {**COMMIT, "sha": "c12", "parent_shas": [1, True]},
        {**COMMIT, "sha": "c13", "subject": " ", "message": "Body only"},
        {**COMMIT, "sha": "c14", "authored_at": "2024-03-04 09:00:00z"},
    ]
    write_jsonl(tmp_path / "events", "commits.jsonl", items)
    sql, python, _ = load_both(tmp_path / "events", tmp_path)
    assert len(sql["tables"]["raw_files__commits"]) == 11
    assert sql == python


def test_duplicates_keep_first_record(tmp_path: Path) -> None:
    items = [
        {**COMMIT, "is_bot": "no"},  # checked by Python
        COMMIT,  # clean, but its key is taken
        {**COMMIT, "sha": "c2"},
        {**COMMIT, "sha": "c2"},
        {**COMMIT, "sha": "c2", "subject": "other"},
    ]
    write_jsonl(tmp_path / "events", "commits.jsonl", items)
    sql, python, _ = load_both(tmp_path / "events", tmp_path)
    reasons = {location: reason for _, location, reason, _ in sql["quarantine"]}
    assert set(reasons) == {"commits.jsonl:2", "commits.jsonl:4", "commits.jsonl:5"}
    assert reasons["commits.jsonl:2"].startswith(
        "duplicate api:c1: conflicts with the row at commits.jsonl:1"
    )
    assert reasons["commits.jsonl:4"].startswith(
        "duplicate api:c2: identical to the row at commits.jsonl:3"
    )
    assert reasons["commits.jsonl:5"].startswith(
        "duplicate api:c2: conflicts with the row at commits.jsonl:3"
    )
    assert sql == python


def test_duplicates_across_two_files(tmp_path: Path) -> None:
    events = tmp_path / "events"
    write_jsonl(events, "pull_requests.jsonl", [PULL_REQUEST])
    (events / "pull_requests.json").write_text(
        json.dumps([PULL_REQUEST, {**PULL_REQUEST, "number": 8}])
    )
    sql, python, _ = load_both(events, tmp_path)
    [(_, location, reason, _)] = sql["quarantine"]
    assert location == "pull_requests.jsonl:1"
    assert "the row at pull_requests.json[1]" in reason
    assert sql == python


def test_deployment_statuses_match_python(tmp_path: Path) -> None:
    history = [
        {"state": "inactive", "at": "2024-03-05T10:00:00+00:00"},
        {"state": "success", "at": "2024-03-04T11:00:00+00:00"},
    ]
    without_times = {**DEPLOYMENT, "started_at": None, "finished_at": None}
    items = [
        DEPLOYMENT,
        {**DEPLOYMENT, "id": "d2", "status_history": history},
        {**DEPLOYMENT, "id": "d3", "environment": " Production-AWS"},
        {**DEPLOYMENT, "id": "d4", "environment": "qa"},
        {**DEPLOYMENT, "id": "d5", "environment": "moon"},
        {**without_times, "id": "d6"},
        {**without_times, "id": "d7", "status": "skipped"},
        {**without_times, "id": "d8", "status": "SUCCESS"},
        {**DEPLOYMENT, "id": "d9", "status_history": []},
        {**DEPLOYMENT, "id": "d10", "status_history": json.dumps(history)},
        {**DEPLOYMENT, "id": "d11", "status_history": [{"state": "success"}]},
        {**DEPLOYMENT, "id": "d12", "finished_at": None},
    ]
    write_jsonl(tmp_path / "events", "deployments.jsonl", [*items[:4], BLANK_LINE, *items[4:]])
    sql, python, extract = load_both(tmp_path / "events", tmp_path)
    assert len(extract.rejected["deployments"]) == 4
    assert extract.counts()["deployments_loaded"] == 10
    assert sql == python


def test_unreadable_file_falls_back_to_python(tmp_path: Path) -> None:
    events = tmp_path / "events"
    line = json.dumps({**COMMIT, "subject": "caf\u00e9"}, ensure_ascii=False).encode()
    events.mkdir()
    (events / "commits.jsonl").write_bytes(line.replace(b"\xc3\xa9", b"\xe9") + b"\n{bad\n")
    sql, python, extract = load_both(events, tmp_path)
    assert len(extract.rows["commits"]) == 1
    assert len(sql["quarantine"]) == 1
    assert sql == python


def test_lenient_json_is_left_to_python(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    clean = json.dumps(COMMIT)
    lines = [
        clean[:-1] + ', "extra": [1,],}',  # trailing commas: invalid for Python
        clean[:-1] + ', "extra": NaN}',  # NaN: valid for Python
        clean[:-1] + ', "extra": inf}',  # inf: invalid for Python
    ]
    (events / "commits.jsonl").write_text("".join(line + "\n" for line in lines))
    (events / "pull_requests.json").write_text("\ufeff" + json.dumps([PULL_REQUEST]))
    sql, python, extract = load_both(events, tmp_path)
    locations = [location for _, location, _, _ in sql["quarantine"]]
    assert locations == ["commits.jsonl:1", "commits.jsonl:3", "pull_requests.json:1"]
    assert extract.counts()["commits_loaded"] == 1
    assert sql == python


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entity=st.sampled_from(files.files_sql.SQL_ENTITIES),
    data=st.data(),
    form=st.sampled_from(["json", "jsonl"]),
)
def test_odd_records_match_python(entity: str, data: st.DataObject, form: str) -> None:
    items = data.draw(records(entity))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "events"
        folder.mkdir()
        write_file(folder, entity, items, form)
        sql, python, _ = load_both(folder, Path(name))
    assert sql == python
