"""Property tests of the file source: every input row loads or lands in quarantine.

Hypothesis writes event files (JSON, JSONL, CSV, raw bytes) whose rows start
valid and then get fields replaced by odd values: timestamps without offsets
or in odd formats, far-future years, huge numbers, lists and objects where
text belongs, non-UTF-8 bytes. For every file the count of records in equals
the records loaded plus the records quarantined, and the load into DuckDB
never raises.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project import warehouse
from dagster_project.config import PipelineConfig
from dagster_project.sources import files

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = PipelineConfig(events_dir=None)

ODD_TIMES = st.sampled_from(
    [
        "2024-03-04T09:00:00+00:00",
        "2024-03-04T09:00:00Z",
        "2024-03-04 09:00:00+05:30",
        "2024-03-04T09:00:00",  # no offset
        "2024-03-04",  # a date only
        "04/03/2024 09:00",
        "2024-13-45T99:00:00+00:00",
        "9999-12-31T23:59:59+00:00",  # far future
        "0001-01-01T00:00:00+00:00",
        "2024-03-04T09:00:00.123456789+00:00",
        "2024-03-04T09:00:00+25:00",
        "1709542800",
        "",
        " ",
        "NaN",
    ]
)
ODD_INTEGERS = st.one_of(
    st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63, -1, 0]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
ODD_VALUES = st.one_of(
    ODD_TIMES,
    ODD_INTEGERS,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5).map(lambda t: t * 50),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)

SHAS = st.text(alphabet="0123456789abcdef", min_size=1, max_size=12)
TIMES = st.datetimes(
    min_value=__import__("datetime").datetime(2000, 1, 1),
    max_value=__import__("datetime").datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [__import__("datetime").UTC, __import__("zoneinfo").ZoneInfo("Asia/Kolkata")]
    ),
).map(lambda moment: moment.isoformat())

BASES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "commits": st.fixed_dictionaries(
        {
            "sha": SHAS,
            "parent_shas": st.lists(SHAS, max_size=3),
            "authored_at": TIMES,
            "committed_at": TIMES,
            "message": st.text(max_size=60),
            "pr_number": st.integers(min_value=1, max_value=10_000),
        }
    ),
    "pull_requests": st.fixed_dictionaries(
        {
            "number": st.integers(min_value=1, max_value=50),
            "opened_at": TIMES,
            "merged_at": TIMES,
            "merge_commit_sha": SHAS,
            "labels": st.lists(st.text(max_size=6), max_size=2),
        }
    ),
    "deployments": st.fixed_dictionaries(
        {
            "id": SHAS,
            "service": st.sampled_from(["api", "web", ""]),
            "environment": st.sampled_from(["production", "prod", "staging", "moon"]),
            "sha": SHAS,
            "status": st.sampled_from(["success", "failure", "error", "in_progress", "SUCCESS"]),
            "started_at": TIMES,
            "finished_at": TIMES,
        }
    ),
    "incidents": st.fixed_dictionaries(
        {
            "id": SHAS,
            "service": st.sampled_from(["api", "web"]),
            "opened_at": TIMES,
            "resolved_at": TIMES,
            "caused_by_deployment_id": SHAS,
            "is_production": st.booleans(),
        }
    ),
}
FIELDS = {
    "commits": [
        "sha",
        "parent_shas",
        "authored_at",
        "committed_at",
        "pr_number",
        "is_bot",
        "pr_merged_at",
        "reverted_sha",
        "subject",
    ],
    "pull_requests": ["number", "opened_at", "merged_at", "labels", "is_bot", "title"],
    "deployments": [
        "id",
        "sha",
        "status",
        "started_at",
        "finished_at",
        "status_history",
        "environment",
        "repo",
    ],
    "incidents": ["id", "opened_at", "resolved_at", "is_production", "service", "updated_at"],
}


@st.composite
def records(draw: st.DrawFn, entity: str) -> list[Any]:
    """A list of rows: valid ones, rows with odd fields, duplicates, and non-objects."""
    items: list[Any] = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        row = draw(BASES[entity])
        for name in draw(st.lists(st.sampled_from(FIELDS[entity]), max_size=3, unique=True)):
            row[name] = draw(ODD_VALUES)
        items.append(row)
    if items and draw(st.booleans()):
        items.append(dict(draw(st.sampled_from(items))))  # an exact duplicate
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        items.append(draw(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.none()))))
    return draw(st.permutations(items))  # out of order


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def write_file(folder: Path, entity: str, items: list[Any], form: str) -> int:
    """Write ``items`` in one format; return the number of records the file holds."""
    if form == "json":
        (folder / f"{entity}.json").write_text(json.dumps(items))
        return len(items)
    if form == "jsonl":
        lines = [json.dumps(item) for item in items]
        (folder / f"{entity}.jsonl").write_text("".join(line + "\n" for line in lines))
        return len(lines)
    objects = [item for item in items if isinstance(item, dict)]
    columns = sorted({"id", *(key for item in objects for key in item)})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for item in objects:
        # A leading marker keeps a row of empty cells from being read as a blank line.
        writer.writerow(
            [
                "x" if name == "id" and not item.get("id") else _cell(item.get(name))
                for name in columns
            ]
        )
    text = buffer.getvalue()
    (folder / f"{entity}.csv").write_text(text)
    # The file source reads one record per non-blank line after the header, so a
    # value with a line break spans several records.
    return sum(1 for line in text.split("\n")[1:] if line.strip())


def loaded_records(entity: str, rows: list[dict[str, Any]]) -> int:
    """Count source records among raw rows (a deployment yields one row per status)."""
    if entity == "deployments":
        return len({row["record_index"] // 1000 for row in rows})
    return len(rows)


def _check_folder(folder: Path, expected: dict[str, int]) -> None:
    extract = files.read_events(folder, CONFIG)
    for entity, count in expected.items():
        loaded = loaded_records(entity, extract.rows[entity])
        rejected = extract.rejected[entity]
        assert loaded + len(rejected) == count, (entity, loaded, rejected)
        for item in rejected:
            assert item["reason"] and item["location"], item
    con = duckdb.connect(":memory:")
    try:
        con.execute("set TimeZone = 'UTC'")
        loaded_extract = files.load_events(con, folder, CONFIG)
        for entity in expected:
            table = files.RAW_TABLE_OF[entity]
            stored = con.execute(f"select count(*) from {table}").fetchone()[0]
            assert stored == loaded_extract.counts()[f"{entity}_loaded"]
            quarantined = con.execute(
                "select count(*) from quarantine where entity = ?", [entity]
            ).fetchone()[0]
            assert quarantined == len(loaded_extract.rejected[entity])
    finally:
        con.close()


@SETTINGS
@given(
    entity=st.sampled_from(files.ENTITIES),
    data=st.data(),
    form=st.sampled_from(["json", "jsonl", "csv"]),
)
def test_every_record_loads_or_is_quarantined(entity: str, data: st.DataObject, form: str) -> None:
    items = data.draw(records(entity))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        count = write_file(folder, entity, items, form)
        _check_folder(folder, {entity: count})


@SETTINGS
@given(
    entity=st.sampled_from(files.ENTITIES),
    lines=st.lists(st.binary(max_size=60), max_size=8),
)
def test_arbitrary_bytes_in_jsonl_never_crash(entity: str, lines: list[bytes]) -> None:
    """Non-UTF-8 bytes and broken JSON: each non-blank line is one record, loaded or not."""
    body = b"".join(line.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for line in lines)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / f"{entity}.jsonl").write_bytes(body)
        count = sum(
            1 for line in body.split(b"\n") if line.decode("utf-8", errors="replace").strip()
        )
        _check_folder(folder, {entity: count})


@SETTINGS
@given(
    entity=st.sampled_from(files.ENTITIES),
    body=st.binary(max_size=200),
    form=st.sampled_from(["json", "csv"]),
)
def test_arbitrary_bytes_in_json_and_csv_never_crash(entity: str, body: bytes, form: str) -> None:
    """Any bytes: a JSON file with content yields at least one record; CSV rows all count."""
    text = body.decode("utf-8", errors="replace")
    if form == "json":
        count = None if text.strip() else 0
    else:
        # The file source reads CSV line by line: the first non-blank line is the
        # header, and every later non-blank line is one record.
        lines = [
            line.decode("utf-8", errors="replace").rstrip("\r\n") for line in body.split(b"\n")
        ]
        count = max(sum(1 for line in lines if line.strip()) - 1, 0)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / f"{entity}.{form}").write_bytes(body)
        extract = files.read_events(folder, CONFIG)
        found = loaded_records(entity, extract.rows[entity]) + len(extract.rejected[entity])
        if count is None:
            assert found >= 1
        else:
            _check_folder(folder, {entity: count})


def test_empty_files_load_nothing_and_quarantine_nothing(tmp_path: Path) -> None:
    for entity in files.ENTITIES:
        (tmp_path / f"{entity}.json").write_text("")
        (tmp_path / f"{entity}.jsonl").write_text("\n\n")
        (tmp_path / f"{entity}.csv").write_text("")
    extract = files.read_events(tmp_path, CONFIG)
    assert all(not rows for rows in extract.rows.values())
    assert all(not rows for rows in extract.rejected.values())


def test_huge_field_is_quarantined_with_reason(tmp_path: Path) -> None:
    huge = "x" * (files.MAX_FIELD_CHARS + 1)
    row = {
        "sha": "a1",
        "parent_shas": [],
        "authored_at": "2024-03-04T09:00:00+00:00",
        "committed_at": "2024-03-04T09:00:00+00:00",
        "subject": huge,
    }
    (tmp_path / "commits.json").write_text(json.dumps([row]))
    extract = files.read_events(tmp_path, CONFIG)
    assert extract.rows["commits"] == []
    [rejected] = extract.rejected["commits"]
    assert "longer than" in rejected["reason"]
    assert len(rejected["raw_content"]) <= 100_000


def test_integer_outside_int32_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    commit = {
        "sha": "a1",
        "authored_at": "2024-03-04T09:00:00+00:00",
        "committed_at": "2024-03-04T09:00:00+00:00",
        "pr_number": 2**31,
    }
    pull_request = {"number": -(2**31) - 1, "opened_at": "2024-03-04T09:00:00+00:00"}
    (tmp_path / "commits.json").write_text(json.dumps([commit]))
    (tmp_path / "pull_requests.json").write_text(json.dumps([pull_request]))
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        extract = files.load_events(con, tmp_path, CONFIG)
    reasons = [
        item["reason"]
        for entity in ("commits", "pull_requests")
        for item in extract.rejected[entity]
    ]
    assert len(reasons) == 2
    assert "'pr_number': 2147483648 is outside the range" in reasons[0]
    assert "'number': -2147483649 is outside the range" in reasons[1]


def test_quarantine_is_replaced_not_duplicated_on_reload(tmp_path: Path) -> None:
    rows = [{"sha": "a1"}, {"sha": "a2", "authored_at": "2024-03-04T09:00:00"}]
    (tmp_path / "commits.json").write_text(json.dumps(rows))
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        files.load_events(con, tmp_path, CONFIG)
        files.load_events(con, tmp_path, CONFIG)
        count = con.execute("select count(*) from quarantine").fetchone()[0]
    assert count == 2
