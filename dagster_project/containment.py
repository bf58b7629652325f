"""Find the counted production deployment that first ships each commit to each service.

A deployment contains a commit when the commit is the deployed sha or one of
its ancestors. Per ``(repo, service)`` the counted production deployments are
visited in ``deployed_at`` order (ties broken by ``deployment_key``). Each one
walks the commit graph from its sha through the parents, with an explicit
stack, and stops at commits that an earlier deployment of that
``(repo, service)`` already shipped. Every commit it reaches is shipped by it.

Cost: every commit is visited at most once per ``(repo, service)``, so one run
costs O(commits per repo x services deploying that repo + deployments) time
and O(commits) memory per repo, and history depth never hits a recursion
limit.

Deployed shas missing from the commit graph ship nothing; the dbt model
``int_deployment_shipments`` flags them with ``is_sha_known = false``.

Commits with the same non-null ``patch_id`` in one repo (a fix cherry-picked
onto another branch) are one change: the whole group is shipped by the
earliest deployment, in visiting order, that ships any member.

The module has no Dagster imports; the Dagster asset calls
``build_containment_table``.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import duckdb

TABLE = "containment__commit_deployments"


class Commit(NamedTuple):
    """A commit of the graph; ``patch_id`` is optional."""

    repo: str
    sha: str
    parent_shas: Sequence[str]
    patch_id: str | None = None


class Deployment(NamedTuple):
    """A counted production deployment."""

    deployment_key: str
    repo: str
    service: str
    sha: str
    deployed_at: datetime


class Shipment(NamedTuple):
    """The first counted deployment of ``service`` that contains commit ``sha``."""

    repo: str
    sha: str
    service: str
    deployment_key: str


def _walk_new_commits(
    start: str, parents: dict[str, Sequence[str]], shipped: set[str]
) -> list[str]:
    """Return the commits reachable from ``start`` that are not in ``shipped``, and add them."""
    if start not in parents or start in shipped:
        return []
    reached = []
    stack = [start]
    shipped.add(start)
    while stack:
        sha = stack.pop()
        reached.append(sha)
        for parent in parents[sha]:
            # Parents outside the graph (a shallow clone) are skipped.
            if parent in parents and parent not in shipped:
                shipped.add(parent)
                stack.append(parent)
    return reached


def _apply_patch_groups(
    first: dict[str, tuple[int, str]], patch_groups: dict[str, list[str]]
) -> None:
    """Give every member of a patch-id group the earliest shipping deployment of the group."""
    for members in patch_groups.values():
        shipping = [first[sha] for sha in members if sha in first]
        if not shipping:
            continue
        earliest = min(shipping)
        for sha in members:
            first[sha] = earliest


def compute_first_deployments(
    commits: Iterable[Sequence[Any]], deployments: Iterable[Sequence[Any]]
) -> list[Shipment]:
    """Return one ``Shipment`` per (commit, service) shipped by a counted deployment.

    ``commits`` are ``(repo, sha, parent_shas)`` or ``(repo, sha, parent_shas,
    patch_id)`` tuples, with ``parent_shas`` a sequence of shas. ``deployments``
    are ``(deployment_key, repo, service, sha, deployed_at)`` tuples of the
    counted production deployments only.
    """
    parents_by_repo: dict[str, dict[str, Sequence[str]]] = defaultdict(dict)
    patch_groups_by_repo: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for commit in commits:
        item = Commit(*commit)
        parents_by_repo[item.repo][item.sha] = tuple(item.parent_shas or ())
        if item.patch_id:
            patch_groups_by_repo[item.repo][item.patch_id].append(item.sha)

    by_target: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        item = Deployment(*deployment)
        by_target[(item.repo, item.service)].append(item)

    shipments: list[Shipment] = []
    for (repo, service), targets in sorted(by_target.items()):
        parents = parents_by_repo.get(repo, {})
        targets.sort(key=lambda d: (d.deployed_at, d.deployment_key))
        shipped: set[str] = set()
        # sha -> (position of the deployment in visiting order, deployment_key)
        first: dict[str, tuple[int, str]] = {}
        for position, deployment in enumerate(targets):
            for sha in _walk_new_commits(deployment.sha, parents, shipped):
                first[sha] = (position, deployment.deployment_key)
        _apply_patch_groups(first, patch_groups_by_repo.get(repo, {}))
        shipments.extend(Shipment(repo, sha, service, key) for sha, (_, key) in first.items())
    return shipments


def _read_commits(con: duckdb.DuckDBPyConnection) -> list[Commit]:
    rows = con.execute("select repo, sha, parent_shas, patch_id from int_commits").fetchall()
    return [
        Commit(repo, sha, json.loads(parents or "[]"), patch_id)
        for repo, sha, parents, patch_id in rows
    ]


def _read_counted_deployments(con: duckdb.DuckDBPyConnection) -> list[Deployment]:
    rows = con.execute(
        "select deployment_key, repo, service, sha, deployed_at "
        "from int_production_deployments where is_counted"
    ).fetchall()
    return [Deployment(*row) for row in rows]


def build_containment_table(con: duckdb.DuckDBPyConnection) -> int:
    """Rewrite ``containment__commit_deployments`` from the dbt models; return its row count.

    Reads ``int_commits`` and the counted rows of ``int_production_deployments``
    from the connection's default schema. The table is replaced in one
    transaction, so a reader never sees it half written.
    """
    shipments = compute_first_deployments(_read_commits(con), _read_counted_deployments(con))
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", delete=False, encoding="utf-8", newline=""
    ) as out:
        writer = csv.writer(out)
        writer.writerow(Shipment._fields)
        writer.writerows(shipments)
        temp_name = out.name
    try:
        con.execute("begin transaction")
        try:
            con.execute(
                f"create or replace table {TABLE} "
                "(repo varchar, sha varchar, service varchar, deployment_key varchar)"
            )
            con.execute(
                f"insert into {TABLE} select * from read_csv(?, header = true, "
                "columns = {'repo': 'VARCHAR', 'sha': 'VARCHAR', "
                "'service': 'VARCHAR', 'deployment_key': 'VARCHAR'})",
                [temp_name],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        os.unlink(temp_name)
    return len(shipments)
