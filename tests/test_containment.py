"""Tests of the first-shipping-deployment walk and of the containment table it writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_merge_members_shallow_first_parent(tmp_path):
    # A shallow history: m's first parent and b1's parent were never loaded.
    commits = [
        ("r", "b1", ["c0"], None),
        ("r", "m", ["gone", "b1"], None),
        ("r", "c2", ["m"], None),
        ("r", "b2", ["m"], None),
        ("r", "m2", ["c2", "b2"], None),
    ]
    merges = [("r", "m"), ("r", "m2")]
    expected = {"m": {"b1"}, "m2": {"b2"}}
    assert members_of(commits, merges) == expected

    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        con.execute(
            "create table int_commits (repo varchar, sha varchar, parent_shas varchar, "
            "patch_id varchar)"
        )
        con.executemany(
            "insert into int_commits values (?, ?, ?, ?)",
            [(repo, sha, json.dumps(parents), patch) for repo, sha, parents, patch in commits],
        )
        con.execute(
            "create table int_production_deployments (deployment_key varchar, repo varchar, "
            "service varchar, sha varchar, deployed_at timestamptz, is_counted boolean)"
        )
        con.execute("create table int_pull_requests (repo varchar, merge_commit_sha varchar)")
        con.executemany("insert into int_pull_requests values (?, ?)", merges)
        containment.build_containment_table(con)
        rows = con.execute("select merge_sha, sha from containment__merge_members").fetchall()
    written: dict[str, set[str]] = {}
    for merge_sha, sha in rows:
        written.setdefault(merge_sha, set()).add(sha)
    assert written == expected


def ancestors(sha: str, parents: dict[str, list[str]]) -> set[str]:
    """Return sha and its ancestors by a plain set walk, as a reference result."""
    seen: set[str] = set()
    stack = [sha] if sha in parents else []
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(parent for parent in parents[current] if parent in parents)
    return seen


@st.composite
def histories(draw):
    """Draw a random commit DAG (parents always older) and deployments of its commits."""
    size = draw(st.integers(min_value=1, max_value=30))
    parents: dict[str, list[str]] = {}
    for index in range(size):
        earlier = [f"c{i}" for i in range(index)]
        chosen = (
            draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        )
        parents[f"c{index}"] = chosen
    shas = sorted(parents)
    deployed = draw(st.lists(st.sampled_from(shas), min_size=1, max_size=8))
    return parents, deployed


@given(histories())
@settings(max_examples=150, deadline=None)
def test_first_deployments_match_ancestor_sets(history):
    parents, deployed = history
    commits = [("r", sha, shas) for sha, shas in parents.items()]
    deployments = [(f"d{i:02d}", "r", "api", sha, at(i)) for i, sha in enumerate(deployed)]
    result = shipped_by(containment.compute_first_deployments(commits, deployments))

    expected: dict[tuple[str, str], str] = {}
    for key, _, _, sha, _ in deployments:
        for reached in ancestors(sha, parents):
            expected.setdefault(("api", reached), key)
    assert result == expected


@given(histories())
@settings(max_examples=150, deadline=None)
def test_merge_members_match_set_difference(history):
    parents, _ = history
    commits = [("r", sha, shas) for sha, shas in parents.items()]
    merges = [sha for sha, shas in parents.items() if len(shas) > 1]
    result = members_of(commits, [("r", sha) for sha in merges])

    expected: dict[str, set[str]] = {}
    for merge in merges:
        first, *others = parents[merge]
        brought = set().union(*(ancestors(other, parents) for other in others))
        members = brought - ancestors(first, parents)
        if members:
            expected[merge] = members
    assert result == expected
