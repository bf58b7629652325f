"""Extending the stored containment tables gives the rows of a full walk.

Each case builds the dbt input tables in a DuckDB file, walks them, changes
them, and refreshes again. The result must equal a full walk of the changed
tables in a second file, and the run must report which path it took.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dagster_project import containment, containment_full, containment_refresh, warehouse
from dagster_project.containment import MERGE_MEMBERS_TABLE, TABLE

T0 = datetime(2024, 1, 1, tzinfo=UTC)

Commit = tuple[str, str, list[str], str | None]
Deployment = tuple[str, str, str, str, datetime, bool]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def write_inputs(
    con: duckdb.DuckDBPyConnection,
    commits: list[Commit],
    deployments: list[Deployment],
    merges: list[tuple[str, str]],
) -> None:
    """Replace the three dbt tables that the containment step reads."""
    con.execute(
        "create or replace table int_commits "
        "(repo varchar, sha varchar, parent_shas varchar, patch_id varchar)"
    )
    con.executemany(
        "insert into int_commits values (?, ?, ?, ?)",
        [(repo, sha, json.dumps(parents), patch) for repo, sha, parents, patch in commits],
    )
    con.execute(
        "create or replace table int_production_deployments (deployment_key varchar, "
        "repo varchar, service varchar, sha varchar, deployed_at timestamptz, is_counted boolean)"
    )
    if deployments:
        con.executemany(
            "insert into int_production_deployments values (?, ?, ?, ?, ?, ?)", deployments
        )
    con.execute(
        "create or replace table int_pull_requests (repo varchar, merge_commit_sha varchar)"
    )
    if merges:
        con.executemany("insert into int_pull_requests values (?, ?)", merges)


def table_rows(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    shipments = con.execute(f"select * from {TABLE} order by all").fetchall()
    members = con.execute(f"select * from {MERGE_MEMBERS_TABLE} order by all").fetchall()
    return shipments, members


def refresh_twice(
    folder: Path,
    before: tuple[list, list, list],
    after: tuple[list, list, list],
) -> tuple[containment_refresh.ContainmentRun, tuple, tuple]:
    """Walk ``before`` then refresh on ``after``; return the run and both tables' rows.

    The second pair of tables comes from a full walk of ``after`` alone.
    """
    with warehouse.open_warehouse(folder / "incremental.duckdb") as con:
        write_inputs(con, *before)
        first = containment_refresh.refresh(con)
        assert first.path == containment_refresh.FULL
        write_inputs(con, *after)
        run = containment_refresh.refresh(con)
        extended = table_rows(con)
    with warehouse.open_warehouse(folder / "full.duckdb") as con:
        write_inputs(con, *after)
        full = containment_refresh.refresh(con, full_refresh=True)
        assert full.path == containment_refresh.FULL
        rebuilt = table_rows(con)
    return run, extended, rebuilt


def history() -> tuple[list[Commit], list[Deployment], list[tuple[str, str]]]:
    """A main line with a merged branch, a cherry-pick and two services."""
    commits: list[Commit] = [
        ("r", "c0", [], None),
        ("r", "c1", ["c0"], "p1"),
        ("r", "b1", ["c0"], None),
        ("r", "m1", ["c1", "b1"], None),
        ("r", "c2", ["m1"], None),
        ("r", "b2", ["c2"], None),
        ("r", "c3", ["c2"], None),
        ("r", "m2", ["c3", "b2"], None),
        ("r", "pick", ["m2"], "p1"),
        ("r", "c4", ["pick"], None),
    ]
    deployments: list[Deployment] = [
        ("d1", "r", "api", "m1", at(1), True),
        ("w1", "r", "web", "c1", at(1.5), True),
        ("d2", "r", "api", "c2", at(2), True),
        ("d3", "r", "api", "m2", at(3), True),
        ("w2", "r", "web", "c4", at(4), True),
        ("d4", "r", "api", "c4", at(5), True),
    ]
    merges = [("r", "m1"), ("r", "m2")]
    return commits, deployments, merges


def cut(
    commits: list[Commit],
    deployments: list[Deployment],
    merges: list,
    commit_count: int,
    hours: float,
) -> tuple[list, list, list]:
    kept = {sha for _, sha, _, _ in commits[:commit_count]}
    return (
        commits[:commit_count],
        [d for d in deployments if d[4] <= at(hours)],
        [m for m in merges if m[1] in kept],
    )


def test_new_day_extends_stored_rows(tmp_path: Path) -> None:
    commits, deployments, merges = history()
    before = cut(commits, deployments, merges, 5, 2)
    run, extended, rebuilt = refresh_twice(tmp_path, before, (commits, deployments, merges))
    assert run.path == containment_refresh.INCREMENTAL
    assert run.reason == ""
    assert run.reused_shipments > 0
    assert run.walked_deployments == 3
    assert run.walked_merges == 1
    assert extended == rebuilt


def test_cherry_pick_joins_earlier_group(tmp_path: Path) -> None:
    # "pick" carries the patch id of c1, which web shipped at w1 before api at d1.
    commits, deployments, merges = history()
    before = cut(commits, deployments, merges, 8, 3)
    run, extended, rebuilt = refresh_twice(tmp_path, before, (commits, deployments, merges))
    assert run.path == containment_refresh.INCREMENTAL
    assert ("r", "pick", "api", "d1") in extended[0]
    assert ("r", "pick", "web", "w1") in extended[0]
    assert extended == rebuilt


def test_backfilled_deployment_walks_everything(tmp_path: Path) -> None:
    commits, deployments, merges = history()
    before = cut(commits, deployments, merges, 10, 5)
    backfilled = [*deployments, ("d1b", "r", "api", "b1", at(0.5), True)]
    run, extended, rebuilt = refresh_twice(tmp_path, before, (commits, backfilled, merges))
    assert run.path == containment_refresh.FULL
    assert "before the last stored deployment" in run.reason
    assert extended == rebuilt
    assert ("r", "b1", "api", "d1b") in extended[0]


def test_uncounted_deployment_walks_everything(tmp_path: Path) -> None:
    commits, deployments, merges = history()
    before = cut(commits, deployments, merges, 10, 5)
    # d2 turns out to have failed: it is no longer a counted deployment.
    changed = [(*d[:5], d[0] != "d2") for d in deployments]
    run, extended, rebuilt = refresh_twice(tmp_path, before, (commits, changed, merges))
    assert run.path == containment_refresh.FULL
    assert "no longer counted" in run.reason
    assert extended == rebuilt


def test_changed_parents_walk_everything(tmp_path: Path) -> None:
    commits, deployments, merges = history()
    before = cut(commits, deployments, merges, 10, 3)
    rewritten = [(r, s, ["c0"] if s == "c2" else p, i) for r, s, p, i in commits]
    run, extended, rebuilt = refresh_twice(tmp_path, before, (rewritten, deployments, merges))
    assert run.path == containment_refresh.FULL
    assert "changed parent_shas" in run.reason
    assert extended == rebuilt


def test_deepened_history_walks_everything(tmp_path: Path) -> None:
    # A shallow clone lacked c0; it arrives later as a parent of stored commits.
    commits, deployments, merges = history()
    shallow = cut(commits[1:], deployments, merges, 9, 5)
    run, extended, rebuilt = refresh_twice(tmp_path, shallow, (commits, deployments, merges))
    assert run.path == containment_refresh.FULL
    assert "parents of stored commits" in run.reason
    assert extended == rebuilt


def test_late_commit_of_stored_deployment(tmp_path: Path) -> None:
    # d4 deployed c4 before c4 reached the warehouse, so it shipped nothing then.
    commits, deployments, merges = history()
    before = (commits[:9], deployments, merges)
    run, extended, rebuilt = refresh_twice(tmp_path, before, (commits, deployments, merges))
    assert run.path == containment_refresh.FULL
    assert "sha that is a new commit" in run.reason
    assert extended == rebuilt


def test_dropped_pull_request_drops_members(tmp_path: Path) -> None:
    commits, deployments, merges = history()
    before = cut(commits, deployments, merges, 10, 3)
    run, extended, rebuilt = refresh_twice(tmp_path, before, (commits, deployments, merges[1:]))
    assert run.path == containment_refresh.INCREMENTAL
    assert extended == rebuilt
    assert all(row[1] != "m1" for row in extended[1])


def test_missing_state_walks_everything(tmp_path: Path) -> None:
    commits, deployments, merges = history()
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        write_inputs(con, commits, deployments, merges)
        containment_refresh.refresh(con)
        con.execute(f"drop table {containment_refresh.STATE_MERGES}")
        run = containment_refresh.refresh(con)
    assert run.path == containment_refresh.FULL
    assert containment_refresh.STATE_MERGES in run.reason


@st.composite
def growing_histories(draw) -> tuple[tuple, tuple]:
    """A random graph and deployments, and a prefix of both in time order."""
    size = draw(st.integers(min_value=2, max_value=25))
    commits: list[Commit] = []
    for index in range(size):
        earlier = [sha for _, sha, _, _ in commits]
        parents = (
            draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        )
        patch = draw(st.one_of(st.none(), st.sampled_from(["p1", "p2"])))
        commits.append(("r", f"c{index}", parents, patch))
    shas = [sha for _, sha, _, _ in commits]
    count = draw(st.integers(min_value=0, max_value=12))
    deployments: list[Deployment] = []
    for index in range(count):
        # Later deployments deploy later commits more often, as in a real history.
        low = min(index * size // max(count, 1), size - 1)
        sha = draw(st.sampled_from([*shas[low:], "unknown"]))
        service = draw(st.sampled_from(["api", "web"]))
        deployments.append((f"d{index:02}", "r", service, sha, at(index), True))
    merges = [("r", sha) for _, sha, parents, _ in commits if len(parents) > 1]
    commit_cut = draw(st.integers(min_value=1, max_value=size))
    hour_cut = draw(st.integers(min_value=-1, max_value=count))
    whole = (commits, deployments, merges)
    return cut(commits, deployments, merges, commit_cut, hour_cut), whole


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(growing_histories())
def test_random_growth_matches_full_walk(tmp_path_factory, case) -> None:
    before, after = case
    folder = tmp_path_factory.mktemp("growth")
    run, extended, rebuilt = refresh_twice(folder, before, after)
    event(f"{run.path} walk")
    assert extended == rebuilt, run


def test_merge_members_of_matches_python_walk(tmp_path: Path) -> None:
    commits: list[Commit] = [
        ("a", "c0", [], None),
        ("a", "b1", ["c0"], None),
        ("a", "c1", ["c0"], None),
        ("a", "m", ["c1", "b1"], None),
        ("b", "c0", [], None),
        ("b", "x1", ["c0"], None),
        ("b", "x2", ["x1"], None),
        ("b", "c1", ["c0"], None),
        ("b", "m", ["c1", "x2"], None),
        ("b", "orphan", ["gone", "x1"], None),
    ]
    requested = [("a", "m"), ("b", "m"), ("b", "orphan"), ("b", "c1"), ("b", "missing")]
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        write_inputs(con, commits, [], [])
        rows = containment_full.merge_members_of(con, requested)
        leftover = con.execute(
            "select count(*) from duckdb_tables() where table_name like 'containment_%'"
        ).fetchone()
    expected = containment.compute_merge_members(commits, requested)
    assert sorted(rows) == sorted(expected)
    assert {(row.repo, row.merge_sha) for row in rows} == {("a", "m"), ("b", "m"), ("b", "orphan")}
    assert leftover == (0,)
