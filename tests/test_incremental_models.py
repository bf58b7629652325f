"""An incremental build of int_commits equals a full rebuild after late, changed and deleted rows.

The refresh builds a warehouse, and the test edits its raw commit rows the
way later loads do. Then dbt builds int_commits twice, incrementally on the
warehouse and with ``--full-refresh`` on a copy. Both tables must contain
the same rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dagster_project.project import dbt_project
from tests.conftest import write_case_events

LATER = "now() + interval 1 minute"


def run_dbt(
    warehouse: Path, target: Path, full_refresh: bool = False, model: str = "int_commits"
) -> dict:
    """Build ``model`` alone in ``warehouse``; return its run result."""
    project_dir = str(dbt_project.project_dir)
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "run",
        "--select",
        model,
        "--project-dir",
        project_dir,
        "--profiles-dir",
        project_dir,
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    if full_refresh:
        command.append("--full-refresh")
    completed = subprocess.run(
        command,
        env={**os.environ, "DORA_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    assert len(results) == 1, results
    return results[0]


def _rows(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select * from int_commits order by repo, sha").fetchall()


def _build_both(warehouse: Path, folder: Path) -> tuple[dict, list[tuple], list[tuple]]:
    """Build incrementally and, on a copy, from scratch; return the run result and both rows."""
    folder.mkdir()
    copy = folder / "full.duckdb"
    shutil.copyfile(warehouse, copy)
    result = run_dbt(warehouse, folder / "incremental-target")
    run_dbt(copy, folder / "full-target", full_refresh=True)
    return result, _rows(warehouse), _rows(copy)


@pytest.fixture
def warehouse(tmp_path: Path, refresh) -> Path:
    events, as_of = write_case_events(tmp_path / "events", "C12")
    return refresh(events, as_of=as_of)


def test_int_commits_late_and_deleted_rows(warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        shas = [
            sha for (sha,) in con.execute("select sha from int_commits order by sha").fetchall()
        ]
        assert len(shas) >= 4
        changed, duplicated, deleted = shas[0], shas[1], shas[2]
        # A later load changed one commit's subject.
        con.execute(
            f"update raw_files__commits set subject = 'edited', _loaded_at = {LATER} where sha = ?",
            [changed],
        )
        # A second source loads another commit later, so its row wins.
        con.execute(
            "insert into raw_git__commits by name "
            f"select * replace ('git:clone' as _source, 'from git' as subject, "
            f"{LATER} as _loaded_at) from raw_files__commits where sha = ?",
            [duplicated],
        )
        # A commit vanished from its source, and a late one arrived.
        con.execute("delete from raw_files__commits where sha = ?", [deleted])
        con.execute(
            "insert into raw_files__commits by name "
            f"select * replace ('late' as sha, 'late' as _record_key, {LATER} as _loaded_at) "
            "from raw_files__commits where sha = ?",
            [changed],
        )

    result, incremental, full = _build_both(warehouse, tmp_path / "first")
    assert "changed_keys" in result["compiled_code"]
    assert incremental == full
    by_sha = {row[1]: row for row in incremental}
    assert deleted not in by_sha
    assert "late" in by_sha
    assert by_sha[changed][8] == "edited"
    assert by_sha[duplicated][2] == "git:clone"


def test_int_commits_kept_row_removed(warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        sha = con.execute("select min(sha) from int_commits").fetchone()[0]
        con.execute(
            "insert into raw_git__commits by name "
            f"select * replace ('git:clone' as _source, {LATER} as _loaded_at) "
            "from raw_files__commits where sha = ?",
            [sha],
        )
    run_dbt(warehouse, tmp_path / "with-duplicate")
    assert {row[1]: row[2] for row in _rows(warehouse)}[sha] == "git:clone"

    # The winning row goes away; the older row of the other source must win again.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from raw_git__commits where sha = ?", [sha])
    result, incremental, full = _build_both(warehouse, tmp_path / "second")
    assert "changed_keys" in result["compiled_code"]
    assert incremental == full
    assert {row[1]: row[2] for row in incremental}[sha] == "files"


def test_int_commits_tied_rows_pick_one(warehouse: Path, tmp_path: Path) -> None:
    # Staging trims repo, so a twin with "repo " meets the original on one key,
    # from the same source and load. The smaller subject must win in both builds.
    with duckdb.connect(str(warehouse)) as con:
        first, last = con.execute("select min(sha), max(sha) from int_commits").fetchone()
        # A later load brings both rows of each key.
        con.execute(
            "update raw_files__commits set subject = 'm original', "
            f"_loaded_at = {LATER} where sha in (?, ?)",
            [first, last],
        )
        for sha, subject in [(first, "0 twin"), (last, "~ twin")]:
            con.execute(
                "insert into raw_files__commits by name "
                "select * replace (repo || ' ' as repo, _record_key || ' twin' as _record_key, "
                "? as subject) from raw_files__commits where sha = ?",
                [subject, sha],
            )

    result, incremental, full = _build_both(warehouse, tmp_path / "twins")
    assert "changed_keys" in result["compiled_code"]
    assert incremental == full
    by_sha = {row[1]: row for row in incremental}
    assert by_sha[first][8] == "0 twin"
    assert by_sha[last][8] == "m original"
