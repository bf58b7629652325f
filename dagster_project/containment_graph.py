"""The two containment walks on one repository's commit graph, with integer ids.

The commits of a repository are numbered ``0 .. n - 1``, and ``parents[i]``
lists the ids of commit ``i``'s parents that are in the graph, in the order
of its ``parent_shas``. Lists indexed by id replace the dicts and sets keyed
by sha of a plain walk, which saves most of the walks' cost in CPython.
``RepoCommits`` numbers commits given as Python tuples; ``containment_full``
numbers them in DuckDB. ``containment`` documents what the walks compute.
No Dagster or DuckDB imports.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from typing import Any

# The position of "no deployment" in an owner list, and the id of a commit
# outside the graph.
NONE = -1

FIRST_SIDE, OTHER_SIDE = 1, 2


def first_deployments(parents: Sequence[Sequence[int]], deployed: Sequence[int]) -> list[int]:
    """Return, per commit id, the position in ``deployed`` of the deployment that first ships it.

    ``deployed`` contains the commit id of each counted deployment of one
    ``(repo, service)`` in visiting order, ``NONE`` for a sha outside the
    graph. A commit that no deployment ships gets ``NONE``.
    """
    owner = [NONE] * len(parents)
    for position, start in enumerate(deployed):
        if start == NONE or owner[start] != NONE:
            continue
        owner[start] = position
        stack = [start]
        while stack:
            for parent in parents[stack.pop()]:
                if owner[parent] == NONE:
                    owner[parent] = position
                    stack.append(parent)
    return owner


def apply_patch_groups(owner: list[int], groups: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """Give every member of each group the earliest position that ships any member.

    Changes ``owner`` in place and returns ``(commit id, position before)``
    for each commit it changed. A commit belongs to at most one group.
    """
    changed: list[tuple[int, int]] = []
    for members in groups:
        shipping = [owner[commit] for commit in members if owner[commit] != NONE]
        if not shipping:
            continue
        earliest = min(shipping)
        for commit in members:
            if owner[commit] != earliest:
                changed.append((commit, owner[commit]))
                owner[commit] = earliest
    return changed


def topological_order(parents: Sequence[Sequence[int]]) -> list[int]:
    """Return the commit ids ordered so that every commit comes after its parents.

    The depth-first search is iterative, so history depth never hits the
    recursion limit. In a cycle, which a commit graph cannot contain, the
    commit first met again is placed early and the order is not topological.
    """
    unvisited, open_ = -2, -1
    state = [unvisited] * len(parents)
    order: list[int] = []
    for root in range(len(parents)):
        if state[root] != unvisited:
            continue
        stack = [root]
        while stack:
            commit = stack[-1]
            if state[commit] == unvisited:
                state[commit] = open_
                stack.extend(parent for parent in parents[commit] if state[parent] == unvisited)
                continue
            stack.pop()
            if state[commit] == open_:
                state[commit] = len(order)
                order.append(commit)
    return order


def first_parent_of(
    parents: Sequence[Sequence[int]], first_unknown: Container[int], commit: int
) -> int:
    """Return the id of the commit's first parent, or ``NONE`` when it has none in the graph."""
    if not parents[commit] or commit in first_unknown:
        return NONE
    return parents[commit][0]


def all_merge_members(
    parents: Sequence[Sequence[int]], first_unknown: Container[int], merges: Iterable[int]
) -> dict[int, list[int]]:
    """Return the ancestors of each merge's other parents that its first parent lacks.

    ``first_unknown`` contains the commits whose first parent sha is outside
    the graph, so their parents in the graph are all "other" parents. The
    merges on the first-parent chain with the most merges come from one pass
    over the chain's history (``_chain_members``). Every other merge gets a
    walk of its own (``merge_members``).
    """
    merges = list(merges)
    chain = _longest_merge_chain(parents, first_unknown, merges)
    result = _chain_members(parents, chain, set(merges))
    rest = [merge for merge in merges if merge not in result]
    if rest:
        order = topological_order(parents)
        rank = ranks(order)
        for merge in rest:
            first = first_parent_of(parents, first_unknown, merge)
            others = parents[merge][1:] if first != NONE else parents[merge]
            result[merge] = merge_members(parents, order, rank, first, others)
    return result


def _longest_merge_chain(
    parents: Sequence[Sequence[int]], first_unknown: Container[int], merges: Sequence[int]
) -> list[int]:
    """Return the first-parent chain, tip first, of the merge whose chain contains the most merges.

    Each commit's count is computed once, so this costs O(commits on the
    merges' first-parent chains). A cycle, which a commit graph cannot
    contain, ends a chain.
    """
    pending = -1
    merge_set = set(merges)
    count: dict[int, int] = {}
    for merge in merges:
        path = []
        commit = merge
        while commit != NONE and commit not in count:
            count[commit] = pending
            path.append(commit)
            commit = first_parent_of(parents, first_unknown, commit)
        below = count[commit] if commit != NONE else 0
        below = max(below, 0)
        for commit in reversed(path):
            below += commit in merge_set
            count[commit] = below
    if not merges:
        return []
    tip = max(merges, key=lambda merge: (count[merge], -merge))
    chain = []
    seen: set[int] = set()
    commit = tip
    while commit != NONE and commit not in seen:
        seen.add(commit)
        chain.append(commit)
        commit = first_parent_of(parents, first_unknown, commit)
    return chain


def _chain_members(
    parents: Sequence[Sequence[int]], chain: Sequence[int], merges: Container[int]
) -> dict[int, list[int]]:
    """Return the members of each merge in ``chain`` (a first-parent chain, tip first).

    The chain is walked from its root. When a chain commit is reached, every
    ancestor of its first parent is marked, so the commits that a walk from
    its parents newly reaches are exactly its members: ``first..other`` in
    git's terms. Each ancestor of the tip is visited once.
    """
    visited = bytearray(len(parents))
    result: dict[int, list[int]] = {}
    for commit in reversed(chain):
        reached: list[int] = []
        stack = [commit]
        while stack:
            for parent in parents[stack.pop()]:
                if not visited[parent]:
                    visited[parent] = 1
                    reached.append(parent)
                    stack.append(parent)
        visited[commit] = 1
        if commit in merges:
            result[commit] = reached
    return result


def merge_members(
    parents: Sequence[Sequence[int]],
    order: Sequence[int],
    rank: Sequence[int],
    first_parent: int,
    other_parents: Sequence[int],
) -> list[int]:
    """Return the ancestors of ``other_parents`` that are not ancestors of ``first_parent``.

    ``order`` is a topological order of the graph and ``rank`` each commit's
    index in it; ``first_parent`` may be ``NONE``. Commits are painted by the
    side they are reachable from and popped by decreasing rank. Every
    descendant of a commit has a higher rank, so a commit's paint is final
    when it is popped, and each commit enters the heap once. The walk stops
    once no commit in the heap is reachable from the other side only.
    """
    paint: dict[int, int] = {}
    heap: list[int] = []
    other_only = 0
    starts = [(first_parent, FIRST_SIDE)] if first_parent != NONE else []
    starts += [(parent, OTHER_SIDE) for parent in other_parents]
    for commit, side in starts:
        before = paint.get(commit, 0)
        paint[commit] = before | side
        if before == 0:
            heapq.heappush(heap, -rank[commit])
            other_only += side == OTHER_SIDE

    members: list[int] = []
    while other_only > 0:
        commit = order[-heapq.heappop(heap)]
        side = paint[commit]
        if side == OTHER_SIDE:
            members.append(commit)
            other_only -= 1
        for parent in parents[commit]:
            before = paint.get(parent, 0)
            after = before | side
            if after == before:
                continue
            paint[parent] = after
            if before == 0:
                heapq.heappush(heap, -rank[parent])
                if after == OTHER_SIDE:
                    other_only += 1
            elif before == OTHER_SIDE:
                # The commit was reachable from the other side only and now is from both.
                other_only -= 1
    return members


def ranks(order: Sequence[int]) -> list[int]:
    """Return each commit's index in ``order``."""
    rank = [0] * len(order)
    for index, commit in enumerate(order):
        rank[commit] = index
    return rank


class RepoCommits:
    """One repository's commits, numbered in the order they were added."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.shas: list[str] = []
        self.parent_shas: list[Sequence[str]] = []
        self.patch_ids: list[str | None] = []

    def add(self, sha: str, parent_shas: Sequence[str], patch_id: str | None = None) -> None:
        """Add a commit. A sha added again keeps its id and takes the new parents and patch id."""
        commit = self.ids.get(sha)
        if commit is None:
            self.ids[sha] = len(self.shas)
            self.shas.append(sha)
            self.parent_shas.append(parent_shas)
            self.patch_ids.append(patch_id)
        else:
            self.parent_shas[commit] = parent_shas
            self.patch_ids[commit] = patch_id

    def parent_shas_of(self, sha: str) -> Sequence[str]:
        commit = self.ids.get(sha)
        return () if commit is None else self.parent_shas[commit]

    def parents(self) -> list[list[int]]:
        """Return, per commit, the ids of its parents that are in the graph."""
        ids = self.ids
        return [[ids[sha] for sha in shas if sha in ids] for shas in self.parent_shas]

    def first_unknown(self) -> set[int]:
        """Return the ids of the commits whose first parent sha is not in the graph."""
        ids = self.ids
        return {
            commit for commit, shas in enumerate(self.parent_shas) if shas and shas[0] not in ids
        }

    def patch_groups(self) -> list[list[int]]:
        """Return the ids of each group of two or more commits with one non-empty patch id."""
        groups: dict[str, list[int]] = defaultdict(list)
        for commit, patch_id in enumerate(self.patch_ids):
            if patch_id:
                groups[patch_id].append(commit)
        return [members for members in groups.values() if len(members) > 1]

    def ids_of(self, shas: Iterable[str]) -> list[int]:
        """Return the id of each sha, ``NONE`` for a sha outside the graph."""
        return [self.ids.get(sha, NONE) for sha in shas]


def repo_commits(commits: Iterable[Sequence[Any]]) -> dict[str, RepoCommits]:
    """Number the commits of each repository, given as for ``compute_first_deployments``."""
    graphs: dict[str, RepoCommits] = defaultdict(RepoCommits)
    for commit in commits:
        repo, sha, parent_shas, *patch_id = commit
        graphs[repo].add(sha, tuple(parent_shas or ()), patch_id[0] if patch_id else None)
    return dict(graphs)
