"""dbt's file log keeps warnings and errors only, unless the caller sets its level."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dagster_project import dbt_partial_parse
from dagster_project.defs import dbt as dbt_defs
from tests.conftest import write_case_events


def test_environment_sets_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dbt_defs.FILE_LOG_LEVEL_ENV, raising=False)
    monkeypatch.setenv(dbt_partial_parse.AS_OF_ENV, "earlier")

    with dbt_defs._dbt_environment("2026-12-01T00:00:00+00:00"):
        assert os.environ[dbt_defs.FILE_LOG_LEVEL_ENV] == "warn"
        assert os.environ[dbt_partial_parse.AS_OF_ENV] == "2026-12-01T00:00:00+00:00"

    assert dbt_defs.FILE_LOG_LEVEL_ENV not in os.environ
    assert os.environ[dbt_partial_parse.AS_OF_ENV] == "earlier"


def test_caller_level_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dbt_defs.FILE_LOG_LEVEL_ENV, "debug")

    with dbt_defs._dbt_environment("2026-12-01T00:00:00+00:00"):
        assert os.environ[dbt_defs.FILE_LOG_LEVEL_ENV] == "debug"

    assert os.environ[dbt_defs.FILE_LOG_LEVEL_ENV] == "debug"


def test_refresh_writes_no_debug_lines(
    tmp_path: Path, refresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(dbt_defs.FILE_LOG_LEVEL_ENV, raising=False)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    events, as_of = write_case_events(tmp_path / "events", "C12")

    refresh(events, as_of=as_of)

    logs = sorted((tmp_path / "target").glob("*/dbt.log"))
    assert [log.parent.name.split("-")[0] for log in logs] == [
        "dbt_after_containment",
        "dbt_before_containment",
    ]
    # dagster-dbt sets DBT_LOG_FORMAT=json, so the file contains one JSON event per line.
    levels = {
        json.loads(line)["info"]["level"]
        for log in logs
        for line in log.read_text().splitlines()
        if line.strip()
    }
    assert levels <= {"warn", "error"}
