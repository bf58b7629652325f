"""Rewrite the containment tables, or extend the stored ones with what is new.

The full walk (``containment_full.walk`` over all of history) runs when a
full refresh is requested, when no walk state is stored, or when the change since
the last walk is not safe to extend. Each run stores the walk state with the
containment tables, in one transaction:

- ``containment__state_commits``: ``repo, sha, parent_shas, patch_id`` of
  every commit of ``int_commits`` at the last walk;
- ``containment__state_deployments``: the counted production deployments
  walked, with ``repo, service, sha, deployed_at``;
- ``containment__state_merges``: the pull request merge commits walked;
- ``containment__state_patch_overrides``: the shipments that the patch-id
  rule gave to another deployment than the walk that reached the commit.

Extending the stored tables gives the same rows as a full walk when all of
these hold (``unsafe_reason`` checks them, on the whole warehouse):

1. every stored commit is still in ``int_commits`` with the same
   ``parent_shas`` and ``patch_id``;
2. no new commit is a parent of a stored commit, so no stored commit gained
   ancestors (a shallow history that was deepened fails this);
3. every stored deployment is still counted, with the same repo, service,
   sha and ``deployed_at``;
4. every new counted deployment comes after the last stored one of its
   ``(repo, service)`` in visiting order ``(deployed_at, deployment_key)``,
   so a backfilled earlier deployment fails this;
5. no stored deployment's sha is a new commit: such a deployment shipped
   nothing then and would ship the commit now.

Under these rules each stored walk reaches the same commits as before, so
the stored rows are the first part of a full walk. The new deployments of a
``(repo, service)`` then walk, in visiting order, only the commits that no
stored walk of that ``(repo, service)`` reached, and stop at the others. The
patch-id rule is applied again to every group of two or more commits.

Merge members depend only on the ancestors of the merge commit, which rules
1 and 2 keep unchanged. So they are computed only for merge commits that no
pull request named before or that were not in the graph then. Members of
merge commits that no pull request names any more are deleted.

Plain Python and DuckDB SQL, no Dagster imports.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import duckdb

from dagster_project import containment, containment_full
from dagster_project.containment import (
    MERGE_MEMBERS_TABLE,
    TABLE,
    Deployment,
    MergeMember,
    PatchOverride,
    Shipment,
    VisitOrder,
)

log = logging.getLogger(__name__)

STATE_COMMITS = "containment__state_commits"
STATE_DEPLOYMENTS = "containment__state_deployments"
STATE_MERGES = "containment__state_merges"
STATE_OVERRIDES = "containment__state_patch_overrides"
STATE_TABLES = (STATE_COMMITS, STATE_DEPLOYMENTS, STATE_MERGES, STATE_OVERRIDES)
FULL, INCREMENTAL = "full", "incremental"


class ContainmentRun(NamedTuple):
    """The path one containment run took and its row counts, for the asset metadata."""

    path: str
    # The reason the full walk ran; empty for an incremental run.
    reason: str
    shipments: int
    merge_members: int
    # Rows of containment__commit_deployments kept from the previous run.
    reused_shipments: int
    walked_deployments: int
    walked_merges: int


COUNTED_DEPLOYMENTS = "select * from int_production_deployments where is_counted"
NEW_COMMITS = f"""
    select c.repo, c.sha from int_commits as c
    where not exists (
        select 1 from {STATE_COMMITS} as s where s.repo = c.repo and s.sha = c.sha
    )
"""
# The rows of the stored table as the walk produced them, before the patch-id rule.
WALKED_SHIPMENTS = f"""
    select
        c.repo, c.service, c.sha,
        coalesce(o.walked_key, c.deployment_key) as deployment_key
    from {TABLE} as c
    left join {STATE_OVERRIDES} as o
        on o.repo = c.repo and o.service = c.service and o.sha = c.sha
    where o.sha is null or o.walked_key is not null
"""
PATCH_GROUP_MEMBERS = """
    select repo, patch_id, sha from int_commits
    where patch_id is not null
    qualify count(*) over (partition by repo, patch_id) > 1
"""

# (what a non-zero count means, query that counts the offending rows)
SAFETY_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "stored commits changed parent_shas or patch_id, or are gone",
        f"""
        select count(*) from {STATE_COMMITS} as s
        left join int_commits as c on c.repo = s.repo and c.sha = s.sha
        where
            c.sha is null
            or c.parent_shas is distinct from s.parent_shas
            or c.patch_id is distinct from s.patch_id
        """,
    ),
    (
        "new commits are parents of stored commits",
        f"""
        with stored_parents as (
            select repo, unnest(from_json(coalesce(parent_shas, '[]'), '["VARCHAR"]')) as sha
            from {STATE_COMMITS}
        )
        select count(*) from stored_parents
        inner join ({NEW_COMMITS}) as n on n.repo = stored_parents.repo and n.sha = stored_parents.sha
        """,
    ),
    (
        "stored deployments are no longer counted or changed repo, service, sha or deployed_at",
        f"""
        select count(*) from {STATE_DEPLOYMENTS} as s
        left join ({COUNTED_DEPLOYMENTS}) as d on d.deployment_key = s.deployment_key
        where
            d.deployment_key is null
            or d.repo is distinct from s.repo
            or d.service is distinct from s.service
            or d.sha is distinct from s.sha
            or d.deployed_at is distinct from s.deployed_at
        """,
    ),
    (
        "new counted deployments come before the last stored deployment of their (repo, service)",
        f"""
        with ranked as (
            select
                repo, service, deployed_at, deployment_key,
                row_number() over (
                    partition by repo, service order by deployed_at desc, deployment_key desc
                ) as position
            from {STATE_DEPLOYMENTS}
        ),
        last_stored as (select * from ranked where position = 1)
        select count(*) from ({COUNTED_DEPLOYMENTS}) as d
        inner join last_stored as l on l.repo = d.repo and l.service = d.service
        where
            not exists (
                select 1 from {STATE_DEPLOYMENTS} as s where s.deployment_key = d.deployment_key
            )
            and (
                d.deployed_at < l.deployed_at
                or (d.deployed_at = l.deployed_at and d.deployment_key < l.deployment_key)
            )
        """,
    ),
    (
        "stored deployments deploy a sha that is a new commit",
        f"""
        select count(*) from {STATE_DEPLOYMENTS} as s
        inner join ({NEW_COMMITS}) as n on n.repo = s.repo and n.sha = s.sha
        """,
    ),
)


def refresh(con: duckdb.DuckDBPyConnection, full_refresh: bool = False) -> ContainmentRun:
    """Rewrite or extend the containment tables in ``con``; return what ran.

    ``con`` must hold ``int_commits``, ``int_production_deployments`` and
    ``int_pull_requests`` in its default schema. A full walk runs when
    ``full_refresh`` is set or ``unsafe_reason`` returns a reason.
    """
    reason = "a full refresh was requested" if full_refresh else unsafe_reason(con)
    if reason:
        log.info("Containment: walking all of history because %s", reason)
        return _walk_everything(con, reason)
    run = _extend(con)
    log.info(
        "Containment: kept %d stored rows and walked %d new deployments and %d merge commits",
        run.reused_shipments,
        run.walked_deployments,
        run.walked_merges,
    )
    return run


def unsafe_reason(con: duckdb.DuckDBPyConnection) -> str:
    """Return why the stored tables cannot be extended, or an empty string when they can."""
    names = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name = current_schema()"
        ).fetchall()
    }
    missing = [name for name in (TABLE, MERGE_MEMBERS_TABLE, *STATE_TABLES) if name not in names]
    if missing:
        return f"no stored walk state ({', '.join(missing)} not found)"
    for description, query in SAFETY_CHECKS:
        count = int(con.execute(query).fetchone()[0])
        if count:
            return f"{count} {description}"
    return ""


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def _walk_everything(con: duckdb.DuckDBPyConnection, reason: str) -> ContainmentRun:
    walked = containment_full.walk(con)
    with _transaction(con):
        shipments, members = containment_full.write_tables(con, STATE_OVERRIDES)
        con.execute(
            f"create or replace table {STATE_COMMITS} as "
            "select repo, sha, parent_shas, patch_id from int_commits"
        )
        _save_deployments_and_merges(con)
    return ContainmentRun(FULL, reason, shipments, members, 0, walked.deployments, walked.merges)


def _save_deployments_and_merges(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"create or replace table {STATE_DEPLOYMENTS} as "
        "select deployment_key, repo, service, sha, deployed_at "
        f"from ({COUNTED_DEPLOYMENTS})"
    )
    con.execute(
        f"create or replace table {STATE_MERGES} as "
        "select distinct repo, merge_commit_sha as merge_sha from int_pull_requests "
        "where merge_commit_sha is not null"
    )


def _extend(con: duckdb.DuckDBPyConnection) -> ContainmentRun:
    deployments = containment.read_counted_deployments(con)
    stored = {
        key for (key,) in con.execute(f"select deployment_key from {STATE_DEPLOYMENTS}").fetchall()
    }
    new_by_target: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        if deployment.deployment_key not in stored:
            new_by_target[(deployment.repo, deployment.service)].append(deployment)

    walked = _walk_new_deployments(con, new_by_target)
    order = {d.deployment_key: (d.deployed_at, d.deployment_key) for d in deployments}
    member_rows, overrides, members = _patch_group_rows(con, walked, order)
    new_rows = [
        Shipment(repo, sha, service, key)
        for (repo, service), first in walked.items()
        for sha, (_, key) in first.items()
        if (repo, sha) not in members
    ]
    merges = _new_merges(con)
    merge_rows = _merge_members_of(con, merges)

    before = _count(con, TABLE)
    with _transaction(con):
        reused = before - _delete_patch_group_rows(con)
        containment.write_rows(con, TABLE, Shipment._fields, new_rows + member_rows, replace=False)
        containment.write_rows(con, STATE_OVERRIDES, PatchOverride._fields, overrides)
        _update_merge_members(con, merges, merge_rows)
        con.execute(
            f"insert into {STATE_COMMITS} select c.repo, c.sha, c.parent_shas, c.patch_id "
            f"from int_commits as c semi join ({NEW_COMMITS}) as n "
            "on n.repo = c.repo and n.sha = c.sha"
        )
        _save_deployments_and_merges(con)
    return ContainmentRun(
        INCREMENTAL,
        "",
        _count(con, TABLE),
        _count(con, MERGE_MEMBERS_TABLE),
        reused,
        sum(len(items) for items in new_by_target.values()),
        len(merges),
    )


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"select count(*) from {table}").fetchone()[0])


def _walk_new_deployments(
    con: duckdb.DuckDBPyConnection, new_by_target: dict[tuple[str, str], list[Deployment]]
) -> dict[tuple[str, str], dict[str, VisitOrder]]:
    """Walk each target's new deployments through the commits its stored walks did not reach.

    A parent missing from that part of the graph was reached before, so the
    walk stops there as it would at a shipped commit.
    """
    if not new_by_target:
        return {}
    con.execute("create or replace temp table containment_targets (repo varchar, service varchar)")
    con.executemany("insert into containment_targets values (?, ?)", list(new_by_target))
    rows = con.execute(
        f"""
        with walked as ({WALKED_SHIPMENTS})
        select t.repo, t.service, c.sha, {containment.PARENT_LIST}
        from containment_targets as t
        inner join int_commits as c on c.repo = t.repo
        where not exists (
            select 1 from walked as w
            where w.repo = t.repo and w.service = t.service and w.sha = c.sha
        )
        """
    ).fetchall()
    con.execute("drop table containment_targets")
    unwalked: dict[tuple[str, str], dict[str, tuple[str, ...]]] = defaultdict(dict)
    for repo, service, sha, parents in rows:
        unwalked[(repo, service)][sha] = tuple(parents)
    return {
        target: containment.walk_deployments(items, unwalked.get(target, {}))
        for target, items in new_by_target.items()
    }


def _patch_group_rows(
    con: duckdb.DuckDBPyConnection,
    walked: dict[tuple[str, str], dict[str, VisitOrder]],
    order: dict[str, VisitOrder],
) -> tuple[list[Shipment], list[PatchOverride], set[tuple[str, str]]]:
    """Apply the patch-id rule again to every group; return its rows, overrides and members.

    ``walked`` contains this run's walks; the stored walks of group members are
    read from the warehouse. ``order`` maps every counted deployment key to
    its place in visiting order.
    """
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for repo, patch_id, sha in con.execute(PATCH_GROUP_MEMBERS).fetchall():
        groups[repo][patch_id].append(sha)
    members = {
        (repo, sha) for repo, by_id in groups.items() for shas in by_id.values() for sha in shas
    }
    if not members:
        return [], [], members

    stored = con.execute(
        f"with walked as ({WALKED_SHIPMENTS}), members as ({PATCH_GROUP_MEMBERS}) "
        "select w.repo, w.service, w.sha, w.deployment_key from walked as w "
        "semi join members as m on m.repo = w.repo and m.sha = w.sha"
    ).fetchall()
    walked_members: dict[tuple[str, str], dict[str, VisitOrder]] = defaultdict(dict)
    for repo, service, sha, key in stored:
        walked_members[(repo, service)][sha] = order[key]
    for (repo, service), first in walked.items():
        for sha, visit in first.items():
            if (repo, sha) in members:
                walked_members[(repo, service)][sha] = visit

    rows: list[Shipment] = []
    overrides: list[PatchOverride] = []
    for (repo, service), first in walked_members.items():
        changed = containment.apply_patch_groups(first, groups[repo].values())
        for sha in changed:
            before = first.get(sha)
            overrides.append(PatchOverride(repo, service, sha, before[1] if before else None))
        rows.extend(
            Shipment(repo, sha, service, key) for sha, (_, key) in (first | changed).items()
        )
    return rows, overrides, members


def _delete_patch_group_rows(con: duckdb.DuckDBPyConnection) -> int:
    """Delete the stored rows of every patch-id group member; return how many."""
    deleted = con.execute(
        f"delete from {TABLE} where exists ("
        f"select 1 from ({PATCH_GROUP_MEMBERS}) as m "
        f"where m.repo = {TABLE}.repo and m.sha = {TABLE}.sha)"
    ).fetchone()
    return int(deleted[0]) if deleted else 0


def _new_merges(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Return the merge commits to walk: not walked before, or not in the graph then."""
    return con.execute(
        f"""
        with merges as (
            select distinct repo, merge_commit_sha as merge_sha from int_pull_requests
            where merge_commit_sha is not null
        )
        select m.repo, m.merge_sha from merges as m
        where
            not exists (
                select 1 from {STATE_MERGES} as s
                where s.repo = m.repo and s.merge_sha = m.merge_sha
            )
            or exists (
                select 1 from ({NEW_COMMITS}) as n where n.repo = m.repo and n.sha = m.merge_sha
            )
        order by m.repo, m.merge_sha
        """
    ).fetchall()


def _merge_members_of(
    con: duckdb.DuckDBPyConnection, merges: list[tuple[str, str]]
) -> list[MergeMember]:
    """Walk ``merges`` on the whole graph of their repositories."""
    # NOTE: this reads every commit of each repository with a new merge, because
    # the walk needs the repository's whole first-parent chain and topological
    # order, which are not stored.
    return containment_full.merge_members_of(con, merges)


def _update_merge_members(
    con: duckdb.DuckDBPyConnection, merges: list[tuple[str, str]], rows: list[MergeMember]
) -> None:
    """Drop members of merges no pull request names, then replace those of ``merges``."""
    con.execute(
        f"delete from {MERGE_MEMBERS_TABLE} where not exists ("
        "select 1 from int_pull_requests as p "
        f"where p.repo = {MERGE_MEMBERS_TABLE}.repo "
        f"and p.merge_commit_sha = {MERGE_MEMBERS_TABLE}.merge_sha)"
    )
    if merges:
        con.execute(
            "create or replace temp table containment_merges (repo varchar, merge_sha varchar)"
        )
        con.executemany("insert into containment_merges values (?, ?)", merges)
        con.execute(
            f"delete from {MERGE_MEMBERS_TABLE} where exists ("
            "select 1 from containment_merges as m "
            f"where m.repo = {MERGE_MEMBERS_TABLE}.repo "
            f"and m.merge_sha = {MERGE_MEMBERS_TABLE}.merge_sha)"
        )
        con.execute("drop table containment_merges")
    containment.write_rows(con, MERGE_MEMBERS_TABLE, MergeMember._fields, rows, replace=False)
