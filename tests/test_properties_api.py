"""Property tests of the API row builders: a mangled API object loads or is quarantined.

Each case starts from a recorded API object (tests/fixtures), replaces or
deletes a few nested fields with odd JSON values (odd timestamps, huge
integers, lists where objects belong), and calls the row builder the loader
calls. The builder must return rows that DuckDB accepts, or raise one of the
exception types its loader turns into a quarantine entry; anything else would
crash the source's asset.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project import warehouse
from dagster_project.clients.pagerduty import PagerDutyClient
from dagster_project.sources import api_loading
from dagster_project.sources import github as gh
from dagster_project.sources import gitlab as gl
from dagster_project.sources import incidents_opsgenie as opsgenie
from dagster_project.sources import incidents_pagerduty as pagerduty
from dagster_project.sources import incidents_statuspage as statuspage
from dagster_project.timeparse import TimestampError
from tests.fakes.incident_servers import FakePagerDuty, load_pagerduty_fixtures

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# What the loaders catch: api_loading.Batch for GitHub and GitLab, each incident loader.
BATCH_ERRORS = (TimestampError, KeyError, TypeError, ValueError, AttributeError)
INCIDENT_ERRORS = (TimestampError, ValueError)
PAGERDUTY_ERRORS = (TimestampError, ValueError, TypeError, KeyError, AttributeError)


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def _json(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


def _jobs(run: Any) -> list[Any] | None:
    """The recorded jobs of a workflow run, or None when none are recorded."""
    run_id = run.get("id") if isinstance(run, dict) else None
    path = FIXTURES / "github" / "jobs" / f"{run_id}.json"
    if not isinstance(run_id, int) or not path.exists():
        return None
    data = json.loads(path.read_text())
    return data["jobs"] if isinstance(data, dict) else data


GITHUB_REPO = gh.GitHubRepoConfig(
    repo="acme/ants",
    services=("ants",),
    branch="master",
    deploy_workflow="CodeQL",
    deploy_branch="master",
    incident_label="bug",
)
GITLAB_PROJECT = gl.GitLabProjectConfig(
    project="acme/app", services=("app",), branch="master", deploy_pipeline_ref="master"
)
PAGERDUTY = pagerduty.parse_settings({"since": "2022-11-01T00:00:00Z"})
OPSGENIE = opsgenie.parse_settings({"since": "2023-09-01T00:00:00Z"})
STATUSPAGE = statuspage.parse_settings({"location": "/nonexistent/incidents.jsonl"})


@dataclass(frozen=True)
class Case:
    name: str
    items: list[Any]
    build: Callable[[Any], Any]
    errors: tuple[type[BaseException], ...]
    tables: dict[str, dict[str, str]]
    table: str

    def __repr__(self) -> str:
        return self.name


def _cases() -> list[Case]:
    github_tables, gitlab_tables = gh.GITHUB_TABLES, gl.GITLAB_TABLES
    statuses = _json("github/deployment_statuses/263877258.json")
    return [
        Case(
            "github pull request",
            _json("github/pulls.json")[:5],
            lambda pr: gh.pull_request_row("acme/ants", pr, "master"),
            BATCH_ERRORS,
            github_tables,
            "raw_github__pull_requests",
        ),
        Case(
            "github commit",
            _json("github/commits.json")[:5],
            lambda commit: gh.commit_row("acme/ants", commit, "branch", ["ants"]),
            BATCH_ERRORS,
            github_tables,
            "raw_github__commits",
        ),
        Case(
            "github deployment",
            _json("github/deployments.json"),
            lambda deployment: gh.deployment_status_rows(GITHUB_REPO, deployment, statuses),
            BATCH_ERRORS,
            github_tables,
            "raw_github__deployment_statuses",
        ),
        Case(
            "github workflow run",
            _json("github/workflow_runs.json")["workflow_runs"],
            lambda run: gh.workflow_run_row(GITHUB_REPO, run, _jobs(run)),
            BATCH_ERRORS,
            github_tables,
            "raw_github__workflow_runs",
        ),
        Case(
            "github issue",
            _json("github/issues.json")[:5],
            lambda issue: gh.incident_row(GITHUB_REPO, issue),
            BATCH_ERRORS,
            github_tables,
            "raw_github__incidents",
        ),
        Case(
            "gitlab merge request",
            _json("gitlab/merge_requests.json")[:5],
            lambda mr: gl.merge_request_row("acme/app", mr, "master"),
            BATCH_ERRORS,
            gitlab_tables,
            "raw_gitlab__merge_requests",
        ),
        Case(
            "gitlab deployment",
            _json("gitlab/deployments.json")[:5],
            lambda deployment: gl.deployment_row(GITLAB_PROJECT, deployment, {}),
            BATCH_ERRORS,
            gitlab_tables,
            "raw_gitlab__deployment_statuses",
        ),
        Case(
            "gitlab pipeline",
            _json("gitlab/pipelines.json")[:5],
            lambda pipeline: gl.pipeline_row(GITLAB_PROJECT, pipeline),
            BATCH_ERRORS,
            gitlab_tables,
            "raw_gitlab__pipelines",
        ),
        Case(
            "gitlab issue",
            _json("gitlab/issues.json")[:5],
            lambda issue: gl.incident_row(GITLAB_PROJECT, issue),
            BATCH_ERRORS,
            gitlab_tables,
            "raw_gitlab__incidents",
        ),
        Case(
            "pagerduty incident",
            _json("pagerduty/incidents.json")["incidents"][:5],
            lambda incident: pagerduty.incident_row(incident, [], PAGERDUTY),
            PAGERDUTY_ERRORS,
            pagerduty.RAW_TABLES,
            pagerduty.INCIDENTS_TABLE,
        ),
        Case(
            "opsgenie incident",
            _json("opsgenie/incidents.json")["data"][:5],
            lambda item: opsgenie.incident_row(item, OPSGENIE),
            INCIDENT_ERRORS,
            opsgenie.RAW_TABLES,
            opsgenie.TABLE,
        ),
        Case(
            "statuspage incident",
            [
                json.loads(line)
                for line in (FIXTURES / "statuspage/incidents.jsonl").read_text().splitlines()[:5]
            ],
            lambda incident: statuspage.incident_row(incident, STATUSPAGE, 1),
            INCIDENT_ERRORS,
            statuspage.RAW_TABLES,
            statuspage.TABLE,
        ),
    ]


def _buildable(case: Case) -> Case:
    """Keep the recorded objects that build unchanged (some need context, such as jobs)."""
    items = []
    for item in case.items:
        try:
            case.build(item)
        except case.errors:
            continue
        items.append(item)
    assert items, f"no recorded {case.name} builds a row"
    return Case(case.name, items, case.build, case.errors, case.tables, case.table)


CASES = [_buildable(case) for case in _cases()]
ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            "",
            "2024-03-04T09:00:00",
            "9999-12-31T23:59:59Z",
            "2024-02-30T00:00:00Z",
            "yesterday",
            2**31,
            2**63,
            -1,
            [],
            {},
            [None],
            {"id": None},
            True,
        ]
    ),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a nested value, dict keys and list indexes alike."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            paths += _paths(child, (*prefix, index))
    return paths


@st.composite
def mangled(draw: st.DrawFn, item: Any) -> Any:
    """A deep copy of ``item`` with up to three nested values replaced or deleted."""
    copy = json.loads(json.dumps(item))
    paths = _paths(copy)
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)) if paths else []:
        parent = copy
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.integers(min_value=0, max_value=4)) == 0 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = deepcopy(draw(ODD_VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return copy


def _write_batch(case: Case, item: Any) -> None:
    """The GitHub and GitLab path: Batch.add, then write_batch."""
    batch = api_loading.Batch("test", "entity")
    batch.add("https://api.invalid/item", item, lambda: case.build(item))
    con = duckdb.connect(":memory:")
    try:
        con.execute("set TimeZone = 'UTC'")
        warehouse.ensure_raw_tables(con, case.tables)
        written = api_loading.write_batch(con, case.table, case.tables[case.table], batch)
        stored = con.execute(f"select count(*) from {case.table}").fetchone()[0]
        quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    finally:
        con.close()
    assert stored == written
    assert (stored > 0) + (quarantined > 0) == 1, (stored, quarantined)


def _write_incident(case: Case, item: Any) -> None:
    """The incident loaders' path: build the row, then upsert it."""
    try:
        row = case.build(item)
    except case.errors as error:
        assert str(error), "a quarantine reason must not be empty"
        return
    con = duckdb.connect(":memory:")
    try:
        con.execute("set TimeZone = 'UTC'")
        warehouse.ensure_raw_tables(con, case.tables)
        assert warehouse.upsert_rows(con, case.table, [row], case.tables[case.table]) == 1
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@SETTINGS
@given(data=st.data())
def test_mangled_api_object_loads_or_is_quarantined(case: Case, data: st.DataObject) -> None:
    item = data.draw(mangled(data.draw(st.sampled_from(case.items))))
    if case.errors is BATCH_ERRORS:
        _write_batch(case, item)
    else:
        _write_incident(case, item)


def test_recorded_objects_build() -> None:
    """Most unmangled recordings build, so a failure above is the mangling's doing."""
    for case in CASES:
        assert len(case.items) >= 1, case.name


@pytest.mark.parametrize(
    ("field", "value"),
    [("incident_number", 2**31), ("teams", 5), ("acknowledgements", 3)],
    ids=["number-beyond-int32", "teams-not-a-list", "acknowledgements-not-a-list"],
)
def test_pagerduty_loader_quarantines_odd_field(tmp_path, field: str, value: Any) -> None:
    incidents_, entries = load_pagerduty_fixtures()
    incidents_ = deepcopy(incidents_)
    incidents_[0][field] = value
    bad_id = incidents_[0]["id"]
    token = "pd-properties-token"
    with FakePagerDuty(incidents_, entries, token) as server:
        client = PagerDutyClient(token, server.base_url, page_size=2, sleep=lambda _: None)
        with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
            summary = pagerduty.load(con, client, PAGERDUTY, datetime(2022, 11, 5, tzinfo=UTC))
            stored = con.execute(
                f"select count(*) from {pagerduty.INCIDENTS_TABLE} where incident_id = ?",
                [bad_id],
            ).fetchone()[0]
            reasons = [row[0] for row in con.execute("select reason from quarantine").fetchall()]
    assert summary.quarantined == 1
    assert stored == 0
    assert len(reasons) == 1
