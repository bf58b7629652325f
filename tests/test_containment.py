"""Tests of the first-shipping-deployment walk and of the containment table it writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dagster_project import containment, warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def linear(repo: str, shas: list[str]) -> list[tuple[str, str, list[str]]]:
    return [(repo, sha, [shas[i - 1]] if i else []) for i, sha in enumerate(shas)]


def shipped_by(shipments) -> dict[tuple[str, str], str]:
    """Map (service, sha) to the deployment key that first shipped it."""
    return {(s.service, s.sha): s.deployment_key for s in shipments}


def test_linear_history_ships_new_commits_only():
    commits = linear("r", ["c0", "c1", "c2", "c3"])
    deployments = [
        ("d1", "r", "api", "c1", at(1)),
        ("d2", "r", "api", "c3", at(2)),
    ]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result == {
        ("api", "c0"): "d1",
        ("api", "c1"): "d1",
        ("api", "c2"): "d2",
        ("api", "c3"): "d2",
    }


def test_deployments_visited_by_time_not_input_order():
    commits = linear("r", ["c0", "c1", "c2"])
    deployments = [
        ("d2", "r", "api", "c2", at(2)),
        ("d1", "r", "api", "c1", at(1)),
    ]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result[("api", "c1")] == "d1"
    assert result[("api", "c2")] == "d2"


def test_merge_ships_both_parents():
    commits = [
        ("r", "c0", []),
        ("r", "a1", ["c0"]),
        ("r", "b1", ["c0"]),
        ("r", "m", ["a1", "b1"]),
    ]
    deployments = [
        ("d0", "r", "api", "c0", at(0)),
        ("d1", "r", "api", "m", at(1)),
    ]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result == {
        ("api", "c0"): "d0",
        ("api", "a1"): "d1",
        ("api", "b1"): "d1",
        ("api", "m"): "d1",
    }


def test_rollback_to_old_sha_ships_nothing():
    commits = linear("r", ["c0", "c1", "c2"])
    deployments = [
        ("d1", "r", "api", "c1", at(1)),
        ("d2", "r", "api", "c2", at(2)),
        ("rollback", "r", "api", "c1", at(3)),
    ]
    shipments = containment.compute_first_deployments(commits, deployments)
    assert [s for s in shipments if s.deployment_key == "rollback"] == []
    assert shipped_by(shipments)[("api", "c2")] == "d2"


def test_two_services_of_one_repo_ship_independently():
    commits = linear("mono", ["c0", "c1"])
    deployments = [
        ("a0", "mono", "svc-a", "c0", at(0)),
        ("b0", "mono", "svc-b", "c0", at(1)),
        ("a1", "mono", "svc-a", "c1", at(2)),
        ("b1", "mono", "svc-b", "c1", at(6)),
    ]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result[("svc-a", "c1")] == "a1"
    assert result[("svc-b", "c1")] == "b1"
    assert result[("svc-b", "c0")] == "b0"


def test_unknown_deployed_sha_ships_nothing():
    commits = linear("r", ["c0", "c1"])
    deployments = [
        ("d0", "r", "api", "c0", at(0)),
        ("ghost", "r", "api", "not-in-graph", at(1)),
        ("d2", "r", "api", "c1", at(2)),
    ]
    shipments = containment.compute_first_deployments(commits, deployments)
    assert all(s.deployment_key != "ghost" for s in shipments)
    assert shipped_by(shipments)[("api", "c1")] == "d2"


def test_deployment_of_other_repo_ships_nothing_here():
    commits = linear("r", ["c0"])
    deployments = [("d0", "other", "api", "c0", at(0))]
    assert containment.compute_first_deployments(commits, deployments) == []


def test_patch_id_group_shipped_by_earliest_member():
    # f1 on main and its cherry-pick f1r on the release branch share a patch id.
    commits = [
        ("r", "c0", [], None),
        ("r", "f1", ["c0"], "patch-f"),
        ("r", "c1", ["c0"], None),
        ("r", "f1r", ["c1"], "patch-f"),
    ]
    deployments = [
        ("d0", "r", "api", "c0", at(0)),
        ("release", "r", "api", "f1r", at(1)),
        ("main", "r", "api", "f1", at(2)),
    ]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result[("api", "f1r")] == "release"
    assert result[("api", "f1")] == "release"
    assert result[("api", "c1")] == "release"


def test_patch_id_undeployed_member_shipped():
    commits = [
        ("r", "c0", [], None),
        ("r", "fix", ["c0"], "patch-x"),
        ("r", "fix-pick", ["c0"], "patch-x"),
    ]
    deployments = [("d1", "r", "api", "fix-pick", at(1))]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result[("api", "fix")] == "d1"


def test_same_time_deployments_ordered_by_key():
    commits = linear("r", ["c0", "c1"])
    deployments = [
        ("k2", "r", "api", "c1", at(1)),
        ("k1", "r", "api", "c0", at(1)),
    ]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))
    assert result[("api", "c0")] == "k1"
    assert result[("api", "c1")] == "k2"


def test_long_linear_chain_has_no_recursion_limit():
    shas = [f"c{i}" for i in range(200_000)]
    commits = linear("r", shas)
    deployments = [
        ("d1", "r", "api", shas[100_000], at(1)),
        ("d2", "r", "api", shas[-1], at(2)),
    ]
    shipments = containment.compute_first_deployments(commits, deployments)
    counts: dict[str, int] = {}
    for shipment in shipments:
        counts[shipment.deployment_key] = counts.get(shipment.deployment_key, 0) + 1
    assert counts == {"d1": 100_001, "d2": 99_999}


def test_build_containment_table_writes_counted_rows(tmp_path):
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        con.execute(
            "create table int_commits (repo varchar, sha varchar, parent_shas varchar, "
            "patch_id varchar)"
        )
        con.executemany(
            "insert into int_commits values (?, ?, ?, ?)",
            [
                ("r", "c0", "[]", None),
                ("r", "c1", json.dumps(["c0"]), None),
                ("r", "c2", json.dumps(["c1"]), None),
            ],
        )
        con.execute(
            "create table int_production_deployments (deployment_key varchar, repo varchar, "
            "service varchar, sha varchar, deployed_at timestamptz, is_counted boolean)"
        )
        con.execute("create table int_pull_requests (repo varchar, merge_commit_sha varchar)")
        con.executemany(
            "insert into int_production_deployments values (?, ?, ?, ?, ?, ?)",
            [
                ("d0", "r", "api", "c0", at(0), True),
                ("redeploy", "r", "api", "c0", at(1), False),
                ("d2", "r", "api", "c2", at(2), True),
            ],
        )
        written = containment.build_containment_table(con)
        rows = con.execute(
            "select sha, service, deployment_key from containment__commit_deployments order by sha"
        ).fetchall()
        # A second build replaces the table instead of appending to it.
        containment.build_containment_table(con)
        count = con.execute("select count(*) from containment__commit_deployments").fetchone()
    assert written == 3
    assert rows == [("c0", "api", "d0"), ("c1", "api", "d2"), ("c2", "api", "d2")]
    assert count == (3,)


def test_build_containment_table_with_no_deployments(tmp_path):
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        con.execute(
            "create table int_commits (repo varchar, sha varchar, parent_shas varchar, "
            "patch_id varchar)"
        )
        con.execute(
            "create table int_production_deployments (deployment_key varchar, repo varchar, "
            "service varchar, sha varchar, deployed_at timestamptz, is_counted boolean)"
        )
        con.execute("create table int_pull_requests (repo varchar, merge_commit_sha varchar)")
        assert containment.build_containment_table(con) == 0
        count = con.execute("select count(*) from containment__commit_deployments").fetchone()
    assert count == (0,)


def members_of(commits, merges) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for member in containment.compute_merge_members(commits, merges):
        result.setdefault(member.merge_sha, set()).add(member.sha)
    return result


def test_merge_members_are_branch_commits():
    commits = [
        ("r", "c0", []),
        ("r", "b1", ["c0"]),
        ("r", "b2", ["b1"]),
        ("r", "c1", ["c0"]),
        ("r", "m", ["c1", "b2"]),
    ]
    assert members_of(commits, [("r", "m")]) == {"m": {"b1", "b2"}}


def test_merge_members_skip_main_merged_into_branch():
    # The branch took main's c1 through merge x before merging back as m2.
    commits = [
        ("r", "c0", []),
        ("r", "b1", ["c0"]),
        ("r", "c1", ["c0"]),
        ("r", "x", ["b1", "c1"]),
        ("r", "b2", ["x"]),
        ("r", "c2", ["c1"]),
        ("r", "m2", ["c2", "b2"]),
    ]
    assert members_of(commits, [("r", "m2")]) == {"m2": {"b1", "x", "b2"}}


def test_merge_members_of_non_merge_empty():
    commits = linear("r", ["c0", "c1"])
    assert members_of(commits, [("r", "c1"), ("r", "missing"), ("other", "c1")]) == {}


def test_merge_members_on_long_history_without_recursion():
    shas = [f"c{i}" for i in range(200_000)]
    commits = [*linear("r", shas), ("r", "b1", [shas[-2]]), ("r", "m", [shas[-1], "b1"])]
    assert members_of(commits, [("r", "m")]) == {"m": {"b1"}}


def test_build_containment_table_writes_merge_members(tmp_path):
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        con.execute(
            "create table int_commits (repo varchar, sha varchar, parent_shas varchar, "
            "patch_id varchar)"
        )
        con.executemany(
            "insert into int_commits values (?, ?, ?, ?)",
            [
                ("r", "c0", "[]", None),
                ("r", "b1", json.dumps(["c0"]), None),
                ("r", "m", json.dumps(["c0", "b1"]), None),
            ],
        )
        con.execute(
            "create table int_production_deployments (deployment_key varchar, repo varchar, "
            "service varchar, sha varchar, deployed_at timestamptz, is_counted boolean)"
        )
        con.execute("create table int_pull_requests (repo varchar, merge_commit_sha varchar)")
        con.execute("insert into int_pull_requests values ('r', 'm'), ('r', null)")
        containment.build_containment_table(con)
        rows = con.execute("select * from containment__merge_members").fetchall()
    assert rows == [("r", "m", "b1")]
