"""The file source: every format, every field, and every kind of bad row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagster_project import warehouse
from dagster_project.config import parse_config
from dagster_project.sources import files

CONFIG = parse_config({"environments": {"mapping": {"production-aws": "production"}}}, Path("."))
COMMIT = {
    "sha": "c1",
    "parent_shas": ["c0"],
    "authored_at": "2024-03-04T09:00:00+01:00",
    "committed_at": "2024-03-04T09:05:00Z",
}
DEPLOYMENT = {
    "id": "d1",
    "service": "api",
    "environment": "production",
    "sha": "c1",
    "status": "success",
    "started_at": "2024-03-04T10:50:00+00:00",
    "finished_at": "2024-03-04T11:00:00+00:00",
}


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_commit_timestamps_stored_in_utc(tmp_path: Path) -> None:
    write(tmp_path, "commits.json", json.dumps([COMMIT]))
    extract = files.read_events(tmp_path, CONFIG)
    row = extract.rows["commits"][0]
    assert row["authored_at"].isoformat() == "2024-03-04T08:00:00+00:00"
    assert row["committed_at"].isoformat() == "2024-03-04T09:05:00+00:00"
    assert row["repo"] == "default"
    assert json.loads(row["parent_shas"]) == ["c0"]
    assert row["parent_count"] == 1


def test_csv_jsonl_and_json_read_alike(tmp_path: Path) -> None:
    write(tmp_path / "json", "commits.json", json.dumps([COMMIT]))
    write(tmp_path / "jsonl", "commits.jsonl", json.dumps(COMMIT) + "\n\n")
    csv_text = (
        "sha,parent_shas,authored_at,committed_at\n"
        'c1,"[""c0""]",2024-03-04T09:00:00+01:00,2024-03-04T09:05:00Z\n'
    )
    write(tmp_path / "csv", "commits.csv", csv_text)
    rows = [
        files.read_events(tmp_path / kind, CONFIG).rows["commits"]
        for kind in ("json", "jsonl", "csv")
    ]
    keys = ("sha", "parent_shas", "authored_at", "committed_at")
    first = [{key: row[key] for key in keys} for row in rows[0]]
    for other in rows[1:]:
        assert [{key: row[key] for key in keys} for row in other] == first


def test_revert_sha_read_from_message(tmp_path: Path) -> None:
    commit = {**COMMIT, "message": 'Revert "Add cache"\n\nThis reverts commit ABCDEF1234.'}
    write(tmp_path, "commits.json", json.dumps([commit]))
    row = files.read_events(tmp_path, CONFIG).rows["commits"][0]
    assert row["reverted_sha"] == "abcdef1234"
    assert row["subject"] == 'Revert "Add cache"'


@pytest.mark.parametrize(
    ("change", "reason_part"),
    [
        ({"authored_at": "2024-03-04T09:00:00"}, "has no UTC offset"),
        ({"authored_at": "yesterday"}, "invalid timestamp 'yesterday'"),
        ({"sha": None}, "missing required field 'sha'"),
        ({"parent_shas": {"a": 1}}, "expected a list"),
        ({"is_bot": "maybe"}, "invalid boolean 'maybe'"),
        ({"pr_number": "twelve"}, "invalid integer 'twelve'"),
    ],
)
def test_bad_commit_quarantined_with_reason(tmp_path: Path, change: dict, reason_part: str) -> None:
    write(tmp_path, "commits.json", json.dumps([{**COMMIT, **change}, {**COMMIT, "sha": "ok"}]))
    extract = files.read_events(tmp_path, CONFIG)
    assert [row["sha"] for row in extract.rows["commits"]] == ["ok"]
    [rejected] = extract.rejected["commits"]
    assert reason_part in rejected["reason"]
    assert rejected["location"] == "commits.json[1]"
    assert rejected["raw_content"]


def test_unknown_environment_quarantined(tmp_path: Path) -> None:
    rows = [
        {**DEPLOYMENT, "environment": "canary-eu"},
        {**DEPLOYMENT, "id": "d2", "environment": "Production-AWS "},
    ]
    write(tmp_path, "deployments.json", json.dumps(rows))
    extract = files.read_events(tmp_path, CONFIG)
    assert [row["deployment_id"] for row in extract.rows["deployments"]] == ["d2"]
    [rejected] = extract.rejected["deployments"]
    assert "unknown environment 'canary-eu'" in rejected["reason"]
    assert "environments.mapping" in rejected["reason"]


def test_status_history_gives_one_row_per_record(tmp_path: Path) -> None:
    deployment = {
        key: value for key, value in DEPLOYMENT.items() if key not in ("status", "finished_at")
    }
    deployment["status_history"] = [
        {"state": "inactive", "at": "2024-03-05T10:00:00+00:00"},
        {"state": "success", "at": "2024-03-04T11:00:00+00:00"},
    ]
    write(tmp_path, "deployments.json", json.dumps([deployment]))
    rows = files.read_events(tmp_path, CONFIG).rows["deployments"]
    assert [(row["state"], row["state_at"].isoformat()) for row in rows] == [
        ("inactive", "2024-03-05T10:00:00+00:00"),
        ("success", "2024-03-04T11:00:00+00:00"),
    ]


def test_success_without_time_quarantined(tmp_path: Path) -> None:
    deployment = {**DEPLOYMENT, "started_at": None, "finished_at": None}
    skipped = {**deployment, "id": "d2", "status": "skipped"}
    write(tmp_path, "deployments.json", json.dumps([deployment, skipped]))
    extract = files.read_events(tmp_path, CONFIG)
    assert [row["deployment_id"] for row in extract.rows["deployments"]] == ["d2"]
    assert "a success status needs a time" in extract.rejected["deployments"][0]["reason"]


def test_duplicate_commit_quarantined(tmp_path: Path) -> None:
    conflicting = {**COMMIT, "authored_at": "2024-03-04T07:00:00+00:00"}
    write(tmp_path, "commits.json", json.dumps([COMMIT, COMMIT, conflicting]))
    extract = files.read_events(tmp_path, CONFIG)
    assert len(extract.rows["commits"]) == 1
    reasons = [item["reason"] for item in extract.rejected["commits"]]
    assert reasons[0].startswith("duplicate default:c1: identical to the row at commits.json[1]")
    assert reasons[1].startswith("duplicate default:c1: conflicts with the row at commits.json[1]")


def test_malformed_lines_and_files(tmp_path: Path) -> None:
    write(tmp_path, "commits.jsonl", json.dumps(COMMIT) + "\n{not json\n[1, 2]\n")
    write(tmp_path, "incidents.json", '{"id": 1}')
    write(tmp_path, "pull_requests.csv", "number,opened_at\n1,2024-03-04T08:00:00Z,extra\n")
    write(tmp_path, "deployments.json", "")
    extract = files.read_events(tmp_path, CONFIG)
    assert len(extract.rows["commits"]) == 1
    commit_reasons = [item["reason"] for item in extract.rejected["commits"]]
    assert commit_reasons[0] == (
        "invalid JSON (Expecting property name enclosed in double quotes: column 2); fix the line"
    )
    assert commit_reasons[1].startswith("expected an object")
    assert "expected a JSON list" in extract.rejected["incidents"][0]["reason"]
    assert "more values than header columns" in extract.rejected["pull_requests"][0]["reason"]
    assert extract.rows["deployments"] == []


def test_non_utf8_bytes_do_not_stop_the_load(tmp_path: Path) -> None:
    line = (
        json.dumps({**COMMIT, "subject": "caf\u00e9"}, ensure_ascii=False)
        .encode()
        .replace(b"\xc3\xa9", b"\xe9")
    )
    (tmp_path / "commits.jsonl").write_bytes(line + b"\n")
    extract = files.read_events(tmp_path, CONFIG)
    assert extract.rows["commits"][0]["subject"] == "caf\ufffd"


def test_load_is_idempotent(tmp_path: Path) -> None:
    events = tmp_path / "events"
    write(
        events, "commits.json", json.dumps([COMMIT, {**COMMIT, "sha": "bad", "authored_at": "x"}])
    )
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        for _ in range(2):
            files.load_events(con, events, CONFIG)
        commits = con.execute("select count(*) from raw_files__commits").fetchone()[0]
        quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    assert commits == 1
    assert quarantined == 1


def test_missing_folder_error_names_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"events folder not found: .*nowhere"):
        files.read_events(tmp_path / "nowhere", CONFIG)


def test_stray_csv_quote_costs_one_line(tmp_path: Path) -> None:
    text = (
        "sha,parent_shas,authored_at,committed_at\n"
        "c1,c0,2024-03-04T09:00:00Z,2024-03-04T09:00:00Z\n"
        'c2,"c1,2024-03-04T10:00:00Z,2024-03-04T10:00:00Z\n'
        "c3,c2,2024-03-04T11:00:00Z,2024-03-04T11:00:00Z\n"
        "c4,c3,2024-03-04T12:00:00Z,2024-03-04T12:00:00Z\n"
    )
    write(tmp_path, "commits.csv", text)
    extract = files.read_events(tmp_path, CONFIG)
    assert [row["sha"] for row in extract.rows["commits"]] == ["c1", "c3", "c4"]
    [rejected] = extract.rejected["commits"]
    assert rejected["location"] == "commits.csv:3"
    assert rejected["reason"].startswith("invalid CSV")
