"""The full containment walk of a DuckDB database, on integer commit ids.

DuckDB numbers each repository's commits, resolves parent shas and deployed
shas to those numbers, and hands Python flat lists of integers, one query
per kind of input. Python runs the walks of ``containment_graph`` on them,
and DuckDB joins the resulting numbers back to shas and deployment keys.
Python never builds a tuple or a sha string per commit, which took most of
the step's time before. The incremental path of ``containment_refresh``
walks new deployments through ``containment.compute_containment`` and new
merges through ``merge_members_of`` below, and
``tests/test_containment_refresh.py`` checks that both paths give the same rows.

The inputs are read into temporary tables of the connection, which
``write_tables`` drops. Plain Python and DuckDB SQL, no Dagster imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import duckdb

from dagster_project import containment_graph
from dagster_project.containment import MERGE_MEMBERS_TABLE, PARENT_LIST, TABLE, MergeMember
from dagster_project.containment_graph import NONE

COMMIT_IDS = "containment_commit_ids"
PARENT_IDS = "containment_parent_ids"
DEPLOYMENT_ORDER = "containment_deployment_order"
OWNERS = "containment_owners"
OVERRIDES = "containment_overrides"
MEMBERS = "containment_members"
REQUESTED_MERGES = "containment_requested_merges"
TEMP_TABLES = (
    COMMIT_IDS, PARENT_IDS, DEPLOYMENT_ORDER, OWNERS, OVERRIDES, MEMBERS, REQUESTED_MERGES
)  # fmt: skip

# Each repository's commits numbered 0 .. n - 1 by sha. int_commits has one
# row per (repo, sha) (a dbt test of the model checks it).
READ_COMMITS = f"""
create or replace temp table {COMMIT_IDS} as
select
    repo,
    sha,
    nullif(patch_id, '') as patch_id,
    {PARENT_LIST} as parent_list,
    (row_number() over (partition by repo order by sha) - 1)::integer as id
from int_commits
"""
# One row per parent sha, with its position in parent_shas (from 1) and its
# id, null when the parent is not in the graph.
READ_PARENTS = f"""
create or replace temp table {PARENT_IDS} as
with edges as (
    select
        repo,
        id,
        unnest(parent_list) as parent_sha,
        generate_subscripts(parent_list, 1) as position
    from {COMMIT_IDS}
)
select e.repo, e.id, e.position, p.id as parent_id
from edges as e
left join {COMMIT_IDS} as p on p.repo = e.repo and p.sha = e.parent_sha
"""
# The counted deployments of each (repo, service) with their position in
# visiting order and the id of the deployed commit (-1 outside the graph).
READ_DEPLOYMENTS = f"""
create or replace temp table {DEPLOYMENT_ORDER} as
select
    d.repo,
    d.service,
    d.deployment_key,
    (row_number() over (
        partition by d.repo, d.service order by d.deployed_at, d.deployment_key
    ) - 1)::integer as position,
    coalesce(c.id, -1) as commit_id
from int_production_deployments as d
left join {COMMIT_IDS} as c on c.repo = d.repo and c.sha = d.sha
where d.is_counted
"""
# Per repository: the commit count, the (child, parent) id pairs of the
# parents in the graph in parent_shas order, and the commits whose first
# parent sha is outside the graph.
GRAPHS = f"""
with sizes as (select repo, count(*) as commit_count from {COMMIT_IDS} group by repo),
edges as (
    select
        repo,
        list(id order by id, position) filter (where parent_id is not null) as child_ids,
        list(parent_id order by id, position) filter (where parent_id is not null) as parent_ids,
        list(id order by id) filter (where position = 1 and parent_id is null) as first_unknown
    from {PARENT_IDS}
    group by repo
)
select
    s.repo,
    s.commit_count,
    coalesce(e.child_ids, []),
    coalesce(e.parent_ids, []),
    coalesce(e.first_unknown, [])
from sizes as s
left join edges as e on e.repo = s.repo
"""
PATCH_GROUPS = f"""
select repo, list(ids)
from (
    select repo, list(id) as ids from {COMMIT_IDS}
    where patch_id is not null
    group by repo, patch_id
    having count(*) > 1
)
group by repo
"""
TARGETS = f"""
select repo, service, list(commit_id order by position)
from {DEPLOYMENT_ORDER}
group by repo, service
"""
# The ids of the pull request merge commits with two or more parent shas.
MERGES = f"""
with merges as (
    select distinct repo, merge_commit_sha as sha from int_pull_requests
    where merge_commit_sha is not null
)
select c.repo, list(c.id order by c.id)
from merges as m
inner join {COMMIT_IDS} as c on c.repo = m.repo and c.sha = m.sha
where len(c.parent_list) > 1
group by c.repo
"""


# The ids of the requested merge commits with two or more parent shas.
REQUESTED_MERGE_IDS = f"""
select c.repo, list(c.id order by c.id)
from {REQUESTED_MERGES} as m
inner join {COMMIT_IDS} as c on c.repo = m.repo and c.sha = m.sha
where len(c.parent_list) > 1
group by c.repo
"""
MEMBER_SHAS = f"""
select m.repo, merge.sha, c.sha
from {MEMBERS} as m
inner join {COMMIT_IDS} as merge on merge.repo = m.repo and merge.id = m.merge_id
inner join {COMMIT_IDS} as c on c.repo = m.repo and c.id = m.id
order by m.repo, merge.sha, c.sha
"""


class FullWalk(NamedTuple):
    """The row counts of one full walk."""

    deployments: int
    merges: int


def walk(con: duckdb.DuckDBPyConnection) -> FullWalk:
    """Run both walks on all of history and keep the results in temporary tables.

    ``con`` must hold ``int_commits``, ``int_production_deployments`` and
    ``int_pull_requests`` in its default schema.
    """
    for query in (READ_COMMITS, READ_PARENTS, READ_DEPLOYMENTS):
        con.execute(query)
    for table, columns in (
        (OWNERS, "repo varchar, service varchar, id integer, position integer"),
        (OVERRIDES, "repo varchar, service varchar, id integer, position integer"),
        (MEMBERS, "repo varchar, merge_id integer, id integer"),
    ):
        con.execute(f"create or replace temp table {table} ({columns})")

    graphs = _read_graphs(con)
    groups = dict(con.execute(PATCH_GROUPS).fetchall())
    for repo, service, deployed in con.execute(TARGETS).fetchall():
        parents = graphs[repo][0] if repo in graphs else []
        owner = containment_graph.first_deployments(parents, deployed)
        changed = containment_graph.apply_patch_groups(owner, groups.get(repo, []))
        _insert_positions(con, OWNERS, [repo, service], owner)
        if changed:
            ids, positions = zip(*changed, strict=True)
            _insert_pairs(con, OVERRIDES, [repo, service], ids, positions)

    _walk_merges(con, graphs, MERGES)
    merge_count = _count(
        con,
        "select count(*) from (select distinct repo, merge_commit_sha from int_pull_requests "
        "where merge_commit_sha is not null)",
    )
    return FullWalk(_count(con, f"select count(*) from {DEPLOYMENT_ORDER}"), merge_count)


def merge_members_of(
    con: duckdb.DuckDBPyConnection, merges: Sequence[tuple[str, str]]
) -> list[MergeMember]:
    """Return the commits each ``(repo, merge_sha)`` brings onto its first parent's branch.

    Reads the whole graph of each repository named in ``merges``, on integer
    ids as ``walk`` does, and gives the rows of
    ``containment.compute_merge_members``: none for a sha that is not a merge
    commit of the graph.
    """
    if not merges:
        return []
    repos = sorted({repo for repo, _ in merges})
    try:
        con.execute(READ_COMMITS + " where list_contains(?, repo)", [repos])
        con.execute(READ_PARENTS)
        con.execute(
            f"create or replace temp table {MEMBERS} (repo varchar, merge_id integer, id integer)"
        )
        con.execute(f"create or replace temp table {REQUESTED_MERGES} (repo varchar, sha varchar)")
        con.execute(
            f"insert into {REQUESTED_MERGES} select unnest(?::varchar[]), unnest(?::varchar[])",
            [[repo for repo, _ in merges], [sha for _, sha in merges]],
        )
        _walk_merges(con, _read_graphs(con), REQUESTED_MERGE_IDS)
        rows = con.execute(MEMBER_SHAS).fetchall()
    finally:
        for table in (COMMIT_IDS, PARENT_IDS, MEMBERS, REQUESTED_MERGES):
            con.execute(f"drop table if exists {table}")
    return [MergeMember(*row) for row in rows]


def _read_graphs(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[list[list[int]], set[int]]]:
    """Return each repository's parent id lists and the ids whose first parent is unknown."""
    return {
        repo: (_parent_lists(count, children, parents), set(first_unknown))
        for repo, count, children, parents, first_unknown in con.execute(GRAPHS).fetchall()
    }


def _walk_merges(
    con: duckdb.DuckDBPyConnection,
    graphs: dict[str, tuple[list[list[int]], set[int]]],
    merges_query: str,
) -> None:
    """Insert into ``MEMBERS`` the members of the merge ids that ``merges_query`` lists per repo."""
    for repo, merges in con.execute(merges_query).fetchall():
        parents, first_unknown = graphs[repo]
        members = containment_graph.all_merge_members(parents, first_unknown, merges)
        merge_column: list[int] = []
        member_column: list[int] = []
        for merge in merges:
            merge_column.extend([merge] * len(members[merge]))
            member_column.extend(members[merge])
        _insert_pairs(con, MEMBERS, [repo], merge_column, member_column)


def _parent_lists(count: int, children: list[int], parents: list[int]) -> list[list[int]]:
    """Return the parent ids of each of ``count`` commits from the (child, parent) pairs."""
    result: list[list[int]] = [[] for _ in range(count)]
    for child, parent in zip(children, parents, strict=True):
        result[child].append(parent)
    return result


def _insert_pairs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    constants: list[str],
    first: Sequence[int],
    second: Sequence[int],
) -> None:
    """Insert ``constants`` with each pair of ``first`` and ``second`` as rows of ``table``.

    The two columns travel as two list parameters of one statement, which is
    far faster than one parameter set per row.
    """
    placeholders = ", ".join("?" for _ in constants)
    con.execute(
        f"insert into {table} select {placeholders}, unnest(?::integer[]), unnest(?::integer[])",
        [*constants, list(first), list(second)],
    )


def _insert_positions(
    con: duckdb.DuckDBPyConnection, table: str, constants: list[str], owner: list[int]
) -> None:
    """Insert ``constants`` with each commit id and its position in ``owner``, unless ``NONE``."""
    placeholders = ", ".join("?" for _ in constants)
    con.execute(
        f"insert into {table} select * from ("
        f"select {placeholders}, unnest(range(len(owner)))::integer, unnest(owner) as position "
        f"from (select ?::integer[] as owner)"
        f") where position <> {NONE}",
        [*constants, owner],
    )


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    return int(con.execute(query).fetchone()[0])


def write_tables(con: duckdb.DuckDBPyConnection, overrides_table: str) -> tuple[int, int]:
    """Replace both containment tables and ``overrides_table`` with the walk's results.

    Returns the row counts of the two containment tables and drops the
    temporary tables. All columns are varchar, as ``containment.write_rows``
    writes them.
    """
    con.execute(
        f"""
        create or replace table {TABLE} as
        select c.repo::varchar as repo, c.sha::varchar as sha, o.service::varchar as service,
            d.deployment_key::varchar as deployment_key
        from {OWNERS} as o
        inner join {COMMIT_IDS} as c on c.repo = o.repo and c.id = o.id
        inner join {DEPLOYMENT_ORDER} as d
            on d.repo = o.repo and d.service = o.service and d.position = o.position
        """
    )
    con.execute(
        f"""
        create or replace table {MERGE_MEMBERS_TABLE} as
        select m.repo::varchar as repo, merge.sha::varchar as merge_sha, c.sha::varchar as sha
        from {MEMBERS} as m
        inner join {COMMIT_IDS} as merge on merge.repo = m.repo and merge.id = m.merge_id
        inner join {COMMIT_IDS} as c on c.repo = m.repo and c.id = m.id
        """
    )
    con.execute(
        f"""
        create or replace table {overrides_table} as
        select o.repo::varchar as repo, o.service::varchar as service, c.sha::varchar as sha,
            d.deployment_key::varchar as walked_key
        from {OVERRIDES} as o
        inner join {COMMIT_IDS} as c on c.repo = o.repo and c.id = o.id
        left join {DEPLOYMENT_ORDER} as d
            on d.repo = o.repo and d.service = o.service and d.position = o.position
        """
    )
    sizes = (
        _count(con, f"select count(*) from {TABLE}"),
        _count(con, f"select count(*) from {MERGE_MEMBERS_TABLE}"),
    )
    for table in TEMP_TABLES:
        con.execute(f"drop table if exists {table}")
    return sizes
