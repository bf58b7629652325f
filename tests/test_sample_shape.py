"""The small sample organisation: commit graph, deployments, incidents and their shape."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dagster_project.sample.generator import generate
from dagster_project.timeparse import parse_timestamp

PRODUCTION_NAMES = {"production", "prod", "prd", "live"}
SUCCESS = {"success"}
FAILURE = {"failure", "failed", "error"}
ORG_ZONE = ZoneInfo("Europe/Berlin")


@dataclass
class SampleEvents:
    """The four files of a generated sample, parsed."""

    commits: list[dict]
    pull_requests: list[dict]
    deployments: list[dict]
    incidents: list[dict]

    @classmethod
    def read(cls, folder: Path) -> SampleEvents:
        def lines(name: str) -> list[dict]:
            with (folder / name).open(encoding="utf-8") as handle:
                return [json.loads(line) for line in handle]

        return cls(
            commits=lines("commits.jsonl"),
            pull_requests=json.loads((folder / "pull_requests.json").read_text()),
            deployments=lines("deployments.jsonl"),
            incidents=json.loads((folder / "incidents.json").read_text()),
        )

    def parents(self) -> dict[tuple[str, str], list[str]]:
        return {(c["repo"], c["sha"]): c["parent_shas"] for c in self.commits}

    def production_successes(self) -> dict[str, list[dict]]:
        """Return successful production deployments per service, in finish order."""
        by_service: dict[str, list[dict]] = defaultdict(list)
        for deployment in self.deployments:
            is_production = deployment["environment"].strip().lower() in PRODUCTION_NAMES
            if is_production and deployment["status"] in SUCCESS:
                by_service[deployment["service"]].append(deployment)
        for items in by_service.values():
            items.sort(key=lambda item: parse_timestamp(item["finished_at"], "finished_at"))
        return by_service


def ancestors(parents: dict[tuple[str, str], list[str]], repo: str, sha: str) -> set[str]:
    """Return a commit and every commit reachable from it through parents."""
    seen: set[str] = set()
    stack = [sha]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(parents[(repo, current)])
    return seen


def classify(events: SampleEvents) -> dict[str, list[tuple[dict, str]]]:
    """Label each successful production deployment counted, redeploy or rollback."""
    result: dict[str, list[tuple[dict, str]]] = {}
    for service, items in events.production_successes().items():
        live = None
        seen: set[str] = set()
        labelled = []
        for deployment in items:
            if deployment["sha"] == live:
                labelled.append((deployment, "redeploy"))
                continue
            labelled.append((deployment, "rollback" if deployment["sha"] in seen else "counted"))
            seen.add(deployment["sha"])
            live = deployment["sha"]
        result[service] = labelled
    return result


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SampleEvents:
    folder = tmp_path_factory.mktemp("small")
    generate(folder, size="small", seed=7, end_date=date(2026, 11, 30))
    return SampleEvents.read(folder)


def test_commit_parents_exist(small: SampleEvents) -> None:
    parents = small.parents()
    roots = Counter()
    for commit in small.commits:
        if not commit["parent_shas"]:
            roots[commit["repo"]] += 1
        for parent in commit["parent_shas"]:
            assert (commit["repo"], parent) in parents, commit["sha"]
    assert roots == Counter({repo: 1 for repo in {c["repo"] for c in small.commits}})


def test_commit_shas_unique(small: SampleEvents) -> None:
    keys = [(commit["repo"], commit["sha"]) for commit in small.commits]
    assert len(keys) == len(set(keys))


def test_parents_written_before_children(small: SampleEvents) -> None:
    written: set[tuple[str, str]] = set()
    for commit in small.commits:
        for parent in commit["parent_shas"]:
            assert (commit["repo"], parent) in written, commit["sha"]
        written.add((commit["repo"], commit["sha"]))


def test_deployment_shas_in_repo(small: SampleEvents) -> None:
    parents = small.parents()
    for deployment in small.deployments:
        assert (deployment["repo"], deployment["sha"]) in parents, deployment["id"]


def test_deployed_shas_on_main(small: SampleEvents) -> None:
    parents = small.parents()
    main_line: dict[str, set[str]] = {}
    for repo in {c["repo"] for c in small.commits}:
        heads = [d["sha"] for d in small.deployments if d["repo"] == repo]
        newest = max(
            (c for c in small.commits if c["repo"] == repo and c["sha"] in heads),
            key=lambda c: parse_timestamp(c["committed_at"], "committed_at"),
        )
        main_line[repo] = first_parent_chain(parents, repo, newest["sha"])
    for deployment in small.deployments:
        assert deployment["sha"] in main_line[deployment["repo"]], deployment["id"]


def first_parent_chain(parents: dict[tuple[str, str], list[str]], repo: str, sha: str) -> set[str]:
    chain = set()
    current: str | None = sha
    while current is not None:
        chain.add(current)
        current_parents = parents[(repo, current)]
        current = current_parents[0] if current_parents else None
    return chain


def test_deployments_move_forward(small: SampleEvents) -> None:
    parents = small.parents()
    for service, labelled in classify(small).items():
        live = None
        for deployment, label in labelled:
            if label == "counted" and live is not None:
                history = ancestors(parents, deployment["repo"], deployment["sha"])
                assert live in history, f"{service} {deployment['id']} moved backwards"
            if label != "redeploy":
                live = deployment["sha"]


def test_merged_prs_land_on_commits(small: SampleEvents) -> None:
    parents = small.parents()
    merged = [pr for pr in small.pull_requests if pr["merged_at"] is not None]
    for pr in merged:
        assert (pr["repo"], pr["merge_commit_sha"]) in parents, pr["number"]
    still_open = [pr for pr in small.pull_requests if pr["merged_at"] is None]
    assert still_open
    assert all(pr["merge_commit_sha"] is None for pr in still_open)


def test_merge_strategies_differ(small: SampleEvents) -> None:
    merge_parent_counts = defaultdict(Counter)
    landing = {(pr["repo"], pr["merge_commit_sha"]) for pr in small.pull_requests}
    for commit in small.commits:
        if (commit["repo"], commit["sha"]) in landing:
            merge_parent_counts[commit["repo"]][len(commit["parent_shas"])] += 1
    assert merge_parent_counts["storefront"][2] > 0
    assert set(merge_parent_counts["payments"]) == {1}
    assert set(merge_parent_counts["accounts"]) == {1}


def test_org_layout(small: SampleEvents) -> None:
    services_by_repo = defaultdict(set)
    for deployment in small.deployments:
        services_by_repo[deployment["repo"]].add(deployment["service"])
    services = set().union(*services_by_repo.values())
    assert 4 <= len(services) <= 6
    assert 2 <= len(services_by_repo) <= 3
    assert sorted(len(names) for names in services_by_repo.values())[-1] == 2


def test_ninety_days_to_end_date(small: SampleEvents) -> None:
    times = [parse_timestamp(d["started_at"], "started_at") for d in small.deployments]
    first_day = min(times).astimezone(ORG_ZONE).date()
    last_day = max(times).astimezone(ORG_ZONE).date()
    assert last_day == date(2026, 11, 30)
    assert 85 <= (last_day - first_day).days + 1 <= 90


def test_production_deployments_per_day(small: SampleEvents) -> None:
    per_day = Counter()
    for labelled in classify(small).values():
        for deployment, label in labelled:
            if label != "redeploy":
                finished = parse_timestamp(deployment["finished_at"], "finished_at")
                per_day[finished.astimezone(ORG_ZONE).date()] += 1
    days = [date(2026, 11, 30) - timedelta(days=offset) for offset in range(90)]
    working = [per_day[day] for day in days if day.weekday() < 5]
    weekend = [per_day[day] for day in days if day.weekday() >= 5]
    assert 5 <= statistics.median(working) <= 15
    assert sum(5 <= count <= 15 for count in working) >= 0.7 * len(working)
    assert statistics.mean(weekend) < statistics.mean(working) / 3
    # The contract's target of 8 a day on every day is not met.
    assert min(per_day[day] for day in days) < 8


def test_environments_and_aliases(small: SampleEvents) -> None:
    environments = Counter(d["environment"] for d in small.deployments)
    assert {"staging", "preprod", "production", "Prod", "live"} <= set(environments)
    assert set(environments) <= {"staging", "preprod", "production", "Prod", "live"}


def test_attempt_outcomes_present(small: SampleEvents) -> None:
    statuses = Counter(d["status"] for d in small.deployments)
    assert statuses["failure"] + statuses["failed"] >= 10
    assert statuses["canceled"] + statuses["cancelled"] >= 1
    labels = Counter(label for items in classify(small).values() for _, label in items)
    assert labels["rollback"] >= 3
    assert labels["redeploy"] >= 5
    assert labels["counted"] >= 400


def test_failed_attempt_then_retry(small: SampleEvents) -> None:
    retried = 0
    successes = {(d["service"], d["sha"]) for d in small.deployments if d["status"] == "success"}
    for deployment in small.deployments:
        if deployment["status"] in FAILURE and deployment["environment"] not in {"staging"}:
            retried += (deployment["service"], deployment["sha"]) in successes
    assert retried >= 5


def test_status_history_spellings(small: SampleEvents) -> None:
    states = Counter(
        entry["state"] for deployment in small.deployments for entry in deployment["status_history"]
    )
    assert states["inactive"] > 0
    assert states["created"] > 0
    assert states["running"] > 0
    pipeline_failed = [
        d
        for d in small.deployments
        if d.get("pipeline_status") == "failed" and d["status"] == "success"
    ]
    assert pipeline_failed


def test_inactive_follows_success(small: SampleEvents) -> None:
    for deployment in small.deployments:
        history = deployment["status_history"]
        inactive = [entry for entry in history if entry["state"] == "inactive"]
        if not inactive:
            continue
        success = [entry for entry in history if entry["state"] == "success"]
        assert len(success) == 1, deployment["id"]
        inactive_at = parse_timestamp(inactive[0]["at"], "at")
        assert inactive_at >= parse_timestamp(success[0]["at"], "at")


def test_in_progress_at_end(small: SampleEvents) -> None:
    for deployment in small.deployments:
        assert (deployment["finished_at"] is None) == (deployment["status"] == "in_progress")


def test_pr_lead_times_spread(small: SampleEvents) -> None:
    hours = [
        (
            parse_timestamp(pr["merged_at"], "merged_at")
            - parse_timestamp(pr["opened_at"], "opened_at")
        ).total_seconds()
        / 3600
        for pr in small.pull_requests
        if pr["merged_at"]
    ]
    assert min(hours) > 0
    assert sum(hour < 1 for hour in hours) >= 50
    assert sum(hour > 24 for hour in hours) >= 50
    assert 700 <= len(hours) <= 1500


def test_drafts_bots_and_reopened(small: SampleEvents) -> None:
    assert sum(pr["created_as_draft"] for pr in small.pull_requests) >= 20
    bots = [pr for pr in small.pull_requests if pr["is_bot"]]
    assert len(bots) >= 10
    assert any(pr["head_ref"].startswith("dependabot/") for pr in bots)
    drafts = [c for c in small.commits if c.get("pr_created_as_draft")]
    assert all("pr_ready_for_review_at" in commit for commit in drafts)
    assert any("pr_reopened_at" in commit for commit in small.commits)


def test_hotfix_prs_deployed_soon(small: SampleEvents) -> None:
    parents = small.parents()
    production = small.production_successes()
    hotfixes = [pr for pr in small.pull_requests if "hotfix" in pr["labels"]]
    assert len(hotfixes) >= 3
    for pr in hotfixes:
        assert pr["head_ref"].startswith("hotfix/")
        merged = parse_timestamp(pr["merged_at"], "merged_at")
        shipped_within = [
            deployment
            for items in production.values()
            for deployment in items
            if deployment["repo"] == pr["repo"]
            and timedelta(0)
            < parse_timestamp(deployment["finished_at"], "finished_at") - merged
            < timedelta(hours=2)
            and pr["merge_commit_sha"] in ancestors(parents, pr["repo"], deployment["sha"])
        ]
        assert shipped_within, pr["number"]


def test_reverts_name_landed_commits(small: SampleEvents) -> None:
    shas_by_repo = defaultdict(set)
    for commit in small.commits:
        shas_by_repo[commit["repo"]].add(commit["sha"])
    reverts = [c for c in small.commits if "This reverts commit" in c.get("message", "")]
    assert len(reverts) >= 5
    abbreviated = 0
    for commit in reverts:
        assert commit["subject"].startswith('Revert "'), commit["sha"]
        assert commit["subject"].endswith('"'), commit["sha"]
        named = commit["message"].split("This reverts commit ")[1].split(".")[0]
        matches = [sha for sha in shas_by_repo[commit["repo"]] if sha.startswith(named)]
        assert len(matches) == 1, commit["sha"]
        abbreviated += len(named) < 40
    assert abbreviated >= 1


def test_incident_links_resolve(small: SampleEvents) -> None:
    deployment_ids = {d["id"] for d in small.deployments}
    shas = {c["sha"] for c in small.commits}
    incident_ids = {i["id"] for i in small.incidents}
    assert len(incident_ids) == len(small.incidents)
    for incident in small.incidents:
        if "caused_by_deployment_id" in incident:
            assert incident["caused_by_deployment_id"] in deployment_ids
        if "root_cause_sha" in incident:
            assert incident["root_cause_sha"] in shas
        if "merged_into" in incident:
            assert incident["merged_into"] in incident_ids
            assert incident["resolution_reason"] == "merged"


def test_incident_kinds_present(small: SampleEvents) -> None:
    incidents = small.incidents
    assert 20 <= len(incidents) <= 120
    assert sum("caused_by_deployment_id" in i for i in incidents) >= 3
    assert sum("root_cause_sha" in i for i in incidents) >= 2
    unlinked = [
        i
        for i in incidents
        if not {"caused_by_deployment_id", "root_cause_sha", "merged_into"} & set(i)
    ]
    assert len(unlinked) >= 5
    assert any("merged_into" in i for i in incidents)
    still_open = [i for i in incidents if i["resolved_at"] is None]
    assert 1 <= len(still_open) <= 2
    assert all(i["resolution_reason"] is None for i in still_open)


def test_incidents_overlap(small: SampleEvents) -> None:
    spans = sorted(
        (
            parse_timestamp(i["opened_at"], "opened_at"),
            parse_timestamp(i["resolved_at"], "resolved_at")
            or datetime.max.replace(tzinfo=ORG_ZONE),
        )
        for i in small.incidents
        if "merged_into" not in i
    )
    overlapping = sum(later[0] < earlier[1] for earlier, later in pairwise(spans))
    assert overlapping >= 2


def test_incidents_miss_restore_target(small: SampleEvents) -> None:
    minutes = [
        (
            parse_timestamp(i["resolved_at"], "resolved_at")
            - parse_timestamp(i["opened_at"], "opened_at")
        ).total_seconds()
        / 60
        for i in small.incidents
        if i["resolved_at"] and "merged_into" not in i
    ]
    assert min(minutes) > 0
    assert sum(minute > 5 for minute in minutes) >= 10
    assert sum(minute <= 5 for minute in minutes) >= 1
