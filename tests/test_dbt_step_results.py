"""A dbt step that succeeds without reporting a model fails instead of skipping later steps."""

from __future__ import annotations

import json
from pathlib import Path

from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from dagster_project import pipeline
from dagster_project.cli import _failure_message
from tests.conftest import write_events

SCENARIO = json.loads(
    (Path(__file__).parent / "test_dbt_failures_data" / "scenario.json").read_text()
)
LOST_MODEL = "int_production_deployments"


def test_dbt_step_fails_on_lost_model(tmp_path: Path, monkeypatch) -> None:
    stream = DbtCliInvocation.stream

    def stream_without_one_model(self, *args, **kwargs):
        for event in stream(self, *args, **kwargs):
            if getattr(event, "output_name", "").endswith(LOST_MODEL):
                continue
            yield event

    monkeypatch.setattr(DbtCliInvocation, "stream", stream_without_one_model)
    events = write_events(
        tmp_path / "events",
        commits=SCENARIO["commits"],
        pull_requests=SCENARIO["pull_requests"],
        deployments=SCENARIO["deployments"],
    )
    result = pipeline.run_refresh_job(
        str(tmp_path / "warehouse.duckdb"),
        {"events_dir": str(events), "as_of": SCENARIO["as_of"], "timezone": "UTC"},
    )

    assert not result.success
    message = _failure_message(result)
    assert message.startswith("step dbt_before_containment failed: dbt "), message
    assert f"without a result for 1 selected models ({LOST_MODEL})" in message
    succeeded = {event.step_key for event in result.all_events if event.is_step_success}
    assert "containment" not in succeeded


def test_dbt_steps_pass_normal_refresh(tmp_path: Path) -> None:
    events = write_events(tmp_path / "events", commits=SCENARIO["commits"])
    result = pipeline.run_refresh_job(
        str(tmp_path / "warehouse.duckdb"),
        {"events_dir": str(events), "as_of": SCENARIO["as_of"], "timezone": "UTC"},
    )
    assert result.success, _failure_message(result)
    succeeded = {event.step_key for event in result.all_events if event.is_step_success}
    assert {"dbt_before_containment", "containment", "dbt_after_containment"} <= succeeded
