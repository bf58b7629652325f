"""Each dbt invocation's target folder is deleted once newer ones replace it."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_project import dbt_partial_parse
from dagster_project.dbt_partial_parse import KEEP_TARGET_FOLDERS, new_target_path


def make_invocation_folders(base: Path, count: int) -> list[Path]:
    """Create ``count`` invocation folders, the first one oldest."""
    folders = []
    for index in range(count):
        folder = base / f"dbt_after_containment-{index:07x}-abcdef{index % 10}"
        (folder / "compiled").mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_000_000 + index, 1_000_000 + index))
        folders.append(folder)
    return folders


def test_prune_keeps_newest_folders(tmp_path):
    folders = make_invocation_folders(tmp_path, 5)

    deleted = dbt_partial_parse.prune_target_folders(tmp_path, keep=2)

    assert sorted(deleted) == sorted(folders[:3])
    for folder in folders[:3]:
        assert not folder.exists()
    for folder in folders[3:]:
        assert folder.exists()


def test_prune_leaves_other_entries(tmp_path):
    make_invocation_folders(tmp_path, 3)
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "partial_parse").mkdir()
    (tmp_path / "dbt-child-30f152690265").mkdir()

    dbt_partial_parse.prune_target_folders(tmp_path, keep=0)

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "dbt-child-30f152690265",
        "manifest.json",
        "partial_parse",
    ]


def test_new_folder_bounds_folder_count(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    old_folders = make_invocation_folders(tmp_path / "target", KEEP_TARGET_FOLDERS + 3)

    target = new_target_path(
        tmp_path, "dbt_before_containment", "0123456789abcdef", str(tmp_path / "w.duckdb")
    )

    remaining = [path for path in (tmp_path / "target").iterdir() if path.is_dir()]
    assert len(remaining) == KEEP_TARGET_FOLDERS
    assert target in remaining
    assert old_folders[-1] in remaining
    assert old_folders[0] not in remaining


def test_prune_missing_base(tmp_path):
    assert dbt_partial_parse.prune_target_folders(tmp_path / "absent", keep=1) == []
