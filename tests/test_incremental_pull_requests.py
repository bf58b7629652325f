"""An incremental build of int_pull_requests equals a full rebuild.

The refresh job builds the failure scenario (``test_dbt_failures_data``),
then each test edits its raw pull request and commit rows the way later
loads do. dbt builds int_pull_requests twice: incrementally on the
warehouse, and with ``--full-refresh`` on a copy. Both tables must hold the
same rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_dbt
from tests.test_dbt_failures import build_scenario

LATER = "now() + interval 1 minute"


def _build(folder: Path, warehouse: Path, *extra: str) -> dict:
    completed, results = run_dbt(folder, warehouse, "run", "--select", "int_pull_requests", *extra)
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert len(results) == 1, results
    return results[0]


def _rows(warehouse: Path) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute("select * from int_pull_requests order by repo, pr_number")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _build_both(warehouse: Path, folder: Path, *extra: str) -> tuple[dict, list, list]:
    """Build incrementally and, on a copy, from scratch; return the run result and both rows."""
    folder.mkdir()
    copy = folder / "full.duckdb"
    shutil.copyfile(warehouse, copy)
    result = _build(folder / "incremental", warehouse, *extra)
    _build(folder / "full", copy, "--full-refresh", *extra)
    return result, _rows(warehouse), _rows(copy)


def _by_number(rows: list[dict]) -> dict[int, dict]:
    return {row["pr_number"]: row for row in rows}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_scenario(tmp_path / "scenario")


def test_changed_moved_and_removed_rows(warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        numbers = [
            n for (n,) in con.execute("select number from raw_files__pull_requests").fetchall()
        ]
        assert sorted(numbers) == [7, 8]
        sha_of = dict(
            con.execute(
                "select pr_number, sha from raw_files__commits where pr_number is not null"
            ).fetchall()
        )
        assert sorted(sha_of) == [7, 8]
        # A later load retitles pull request 7, which is then no hotfix.
        con.execute(
            "update raw_files__pull_requests set title = 'Stop the retry storm', "
            f"_loaded_at = {LATER} where number = 7"
        )
        # A later load moves pull request 7's commit to pull request 9.
        con.execute(
            f"update raw_files__commits set pr_number = 9, _loaded_at = {LATER} where sha = ?",
            [sha_of[7]],
        )
        # Pull request 8's commit left the file, and nothing else of it changed.
        con.execute("delete from raw_files__commits where sha = ?", [sha_of[8]])
        # A late listing of pull request 10.
        con.execute(
            "insert into raw_files__pull_requests by name "
            f"select * replace (10 as number, '10' as _record_key, {LATER} as _loaded_at) "
            "from raw_files__pull_requests where number = 7"
        )

    result, incremental, full = _build_both(warehouse, tmp_path / "edited")
    assert "changed_keys" in result["compiled_code"]
    assert incremental == full
    pull_requests = _by_number(incremental)
    assert sorted(pull_requests) == [7, 8, 9, 10]
    assert pull_requests[7]["title"] == "Stop the retry storm"
    assert pull_requests[7]["is_hotfix"] is False
    assert pull_requests[7]["has_commit_fields"] is False
    assert pull_requests[8]["has_commit_fields"] is False
    assert pull_requests[9]["is_listed"] is False

    # Pull requests 9 and 10 leave the files again.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from raw_files__commits where pr_number = 9")
        con.execute("delete from raw_files__pull_requests where number = 10")
    result, incremental, full = _build_both(warehouse, tmp_path / "removed")
    assert incremental == full
    assert sorted(_by_number(incremental)) == [7, 8]


def test_new_hotfix_rules_recompute_kept_rows(warehouse: Path, tmp_path: Path) -> None:
    rules = json.dumps({"hotfix_title_prefixes": ["fix"]})
    before = _by_number(_rows(warehouse))
    result, incremental, full = _build_both(warehouse, tmp_path / "rules", "--vars", rules)
    assert "changed_keys" in result["compiled_code"]
    assert incremental == full
    after = _by_number(incremental)
    # Pull request 7 was a hotfix by its title "Hotfix: ..." only.
    assert before[7]["is_hotfix"] is True
    assert after[7]["is_hotfix"] is False
    assert after[8]["is_hotfix"] is True


def test_tied_listings_pick_one_row(warehouse: Path, tmp_path: Path) -> None:
    # The loader keeps repo untrimmed, so "default " is another record, but
    # staging trims it: each twin meets the original on one key, loaded together.
    with duckdb.connect(str(warehouse)) as con:
        for number, title in [(7, "A twin"), (8, "Zz twin")]:
            con.execute(
                "insert into raw_files__pull_requests by name "
                "select * replace (repo || ' ' as repo, _record_key || ' twin' as _record_key, "
                "? as title) from raw_files__pull_requests where number = ?",
                [title, number],
            )

    result, incremental, full = _build_both(warehouse, tmp_path / "twins")
    assert "changed_keys" in result["compiled_code"]
    assert incremental == full
    pull_requests = _by_number(incremental)
    assert sorted(pull_requests) == [7, 8]
    # Tied on load time and source, the smaller title wins.
    assert pull_requests[7]["title"] == "A twin"
    assert pull_requests[8]["title"] == "Raise the worker limit"
