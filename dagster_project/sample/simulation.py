"""The day-by-day simulation of one repository, its pull requests and its services."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from dagster_project.sample.deployments import DeploymentLog, ServiceState
from dagster_project.sample.graph import Landing, PullRequest, RepoGraph
from dagster_project.sample.incidents import IncidentBook
from dagster_project.sample.profiles import RepoProfile
from dagster_project.sample.recovery import plan_failure
from dagster_project.sample.texts import bot_title, direct_push_subject, feature_title

MINUTE = 60
HOUR = 3600
_AUTHOR_ZONES = (
    (ZoneInfo("Europe/Berlin"), 70),
    (ZoneInfo("America/New_York"), 15),
    (ZoneInfo("Asia/Kolkata"), 15),
)


@dataclass(frozen=True)
class Calendar:
    """The organisation's days and working hours."""

    zone: tzinfo
    first_day: date
    days: int
    weekend_factor: float

    @property
    def end_at(self) -> int:
        return self.day_start(self.first_day + timedelta(days=self.days))

    def day_start(self, day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp())

    def each_day(self):
        for offset in range(self.days):
            yield self.first_day + timedelta(days=offset)

    def next_working_time(self, seconds: int, rng: random.Random) -> int:
        """Move a moment outside working hours to the next working morning."""
        local = datetime.fromtimestamp(seconds, self.zone)
        if local.weekday() < 5 and 8 <= local.hour < 19:
            return seconds
        day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.day_start(day) + 8 * HOUR + rng.randint(0, 150 * MINUTE)


class RepoSimulation:
    """Runs one repository through the calendar, writing as it goes."""

    def __init__(
        self,
        profile: RepoProfile,
        calendar: Calendar,
        graph: RepoGraph,
        deployments: DeploymentLog,
        incidents: IncidentBook,
        rng: random.Random,
    ) -> None:
        self.profile = profile
        self.calendar = calendar
        self.graph = graph
        self.deployments = deployments
        self.incidents = incidents
        self.rng = rng
        self.services = {service.name: ServiceState(service) for service in profile.services}
        self._events: list[tuple[int, int, Callable, tuple]] = []
        self._sequence = 0
        self._next_pr = 1
        self._open_prs: dict[int, PullRequest] = {}
        self._releases = 0

    def schedule(self, at: int, action: Callable, *args) -> None:
        self._sequence += 1
        heapq.heappush(self._events, (at, self._sequence, action, args))

    def run(self) -> None:
        """Simulate every day, then write what is still open at the end."""
        for day in self.calendar.each_day():
            self._plan_day(day)
            self._run_until(self.calendar.day_start(day + timedelta(days=1)))
        for pr in sorted(self._open_prs.values(), key=lambda item: item.number):
            self.graph.write_open(pr)
        for state in self.services.values():
            self.deployments.flush(state)

    def _run_until(self, until: int) -> None:
        events = self._events
        while events and events[0][0] < until:
            at, _, action, args = heapq.heappop(events)
            action(at, *args)

    def _plan_day(self, day: date) -> None:
        rng = self.rng
        working = day.weekday() < 5
        factor = 1.0 if working else self.calendar.weekend_factor
        start = self.calendar.day_start(day)
        pull_requests = self.profile.prs_per_working_day * factor
        for _ in range(_poisson(rng, pull_requests)):
            self.schedule(start + rng.randint(8 * HOUR, 18 * HOUR), self._open_pr)
        for _ in range(_poisson(rng, pull_requests * self.profile.direct_push_share)):
            self.schedule(start + rng.randint(9 * HOUR, 18 * HOUR), self._push_direct)
        for state in self.services.values():
            rate = state.profile.deploys_per_working_day * factor
            if state.profile.deploys_on_merge:
                rate = 0.0
            for _ in range(_poisson(rng, rate)):
                at = start + rng.randint(9 * HOUR, 18 * HOUR)
                self.schedule(at, self.deploy, state, "forward")
            incident_rate = state.profile.unlinked_incidents_per_day * (1.0 if working else 0.6)
            for _ in range(_poisson(rng, incident_rate)):
                self._unlinked_incident(state, start + rng.randint(0, 24 * HOUR - 1))

    def _open_pr(self, at: int) -> None:
        rng = self.rng
        profile = self.profile
        if rng.random() < profile.bot_share:
            title, head_ref, labels, _ = bot_title(rng)
            pr = self._new_pr(at, title, head_ref, labels, is_bot=True)
            duration = rng.lognormvariate(3.0, 1.0) * HOUR / 10
        else:
            title, head_ref, labels = feature_title(rng)
            pr = self._new_pr(at, title, head_ref, labels)
            duration = rng.lognormvariate(0.0, profile.pr_hours_sigma) * profile.pr_hours_median
            duration *= HOUR
        duration = min(max(duration, 4 * MINUTE), 30 * 24 * HOUR)
        merged = int(at + duration)
        if rng.random() > 0.12:
            merged = self.calendar.next_working_time(merged, rng)
        self._shape_review(pr, merged)
        self.schedule(merged, self._merge_pr, pr)

    def open_fix_pr(
        self,
        opened: int,
        merged: int,
        title: tuple[str, str, list[str]],
        fix_for: str,
        after_merge: str,
        reverts: Landing | None = None,
    ) -> None:
        """Schedule an urgent pull request (a hotfix or a revert) with fixed times."""
        pr = self._new_pr(opened, *title)
        pr.fix_for = fix_for
        pr.after_merge = after_merge
        if reverts is not None:
            pr.reverts = (reverts.sha, reverts.subject)
            pr.branch_commits = 1
        self._shape_review(pr, merged)
        self.schedule(merged, self._merge_pr, pr)

    def _new_pr(
        self, at: int, title: str, head_ref: str, labels: list[str], is_bot: bool = False
    ) -> PullRequest:
        rng = self.rng
        zones, weights = zip(*_AUTHOR_ZONES, strict=True)
        pr = PullRequest(
            number=self._next_pr,
            title=title,
            head_ref=head_ref,
            labels=labels,
            opened_at=at,
            merged_at=at,
            author_zone=zones[0] if is_bot else rng.choices(zones, weights)[0],
            is_bot=is_bot,
        )
        pr.branch_commits = 1 + _poisson(rng, max(self.profile.branch_commits_mean - 1, 0))
        self._next_pr += 1
        self._open_prs[pr.number] = pr
        return pr

    def _shape_review(self, pr: PullRequest, merged: int) -> None:
        """Set merge time, draft and reopen history, and branch commit times."""
        rng = self.rng
        pr.merged_at = merged
        span = merged - pr.opened_at
        if not pr.is_bot and not pr.fix_for and rng.random() < self.profile.draft_share:
            pr.created_as_draft = True
            pr.ready_at = pr.opened_at + int(span * rng.uniform(0.3, 0.8))
        elif not pr.is_bot and not pr.fix_for and span > 4 * HOUR and rng.random() < 0.02:
            pr.closed_at = pr.opened_at + int(span * rng.uniform(0.1, 0.4))
            pr.reopened_at = pr.closed_at + int(span * rng.uniform(0.1, 0.4))
        first = pr.opened_at - rng.randint(0, 2 * HOUR)
        later = sorted(rng.randint(pr.opened_at, merged - 30) for _ in range(pr.branch_commits - 1))
        pr.commit_times = [first, *later]

    def _merge_pr(self, at: int, pr: PullRequest) -> None:
        del self._open_prs[pr.number]
        landing = self.graph.land(pr, self.rng)
        self._after_landing(at, landing, pr)

    def _push_direct(self, at: int) -> None:
        self._releases += 1
        subject, is_bot = direct_push_subject(self.rng, self._releases)
        self._after_landing(at, self.graph.push_direct(at, subject, is_bot), None)

    def _after_landing(self, at: int, landing: Landing, pr: PullRequest | None) -> None:
        for state in self.services.values():
            state.pending.append(landing)
            is_fixed_service = pr is not None and pr.fix_for == state.profile.name
            if is_fixed_service and pr.after_merge == "deploy_fix":
                self.schedule(
                    at + self.rng.randint(3 * MINUTE, 10 * MINUTE), self.deploy, state, "fix"
                )
                continue
            if is_fixed_service:
                state.frozen = False
            if state.profile.deploys_on_merge:
                self.schedule(
                    at + self.rng.randint(2 * MINUTE, 8 * MINUTE), self.deploy, state, "forward"
                )

    def deploy(self, at: int, state: ServiceState, kind: str) -> None:
        """Run one deploy pipeline: pre-production, then production attempts.

        `kind` is forward (the head of main), fix (the head of main, shipping a
        hotfix or revert), rollback (the previous live sha) or redeploy (the live sha).
        """
        if kind == "forward" and state.frozen:
            return
        sha = {
            "forward": self.graph.head,
            "fix": self.graph.head,
            "rollback": state.previous_live_sha,
            "redeploy": state.live_sha,
        }[kind]
        if sha is None:
            return
        if kind == "forward" and sha == state.live_sha and self.rng.random() < 0.9:
            # Most pipelines skip a deploy when main has not moved since the last one.
            return
        start = max(at, state.busy_until + MINUTE)
        if kind in ("forward", "fix"):
            start = self._pre_production(state, sha, start, may_fail=kind == "forward")
            if start is None:
                return
        self._production(state, sha, start, kind)

    def _pre_production(
        self, state: ServiceState, sha: str, start: int, may_fail: bool
    ) -> int | None:
        """Deploy to each pre-production environment; return when production may start.

        Fix deploys never stop here, so every frozen service gets its fix out.
        """
        rng = self.rng
        for environment in state.profile.pre_production:
            finished = start + rng.randint(2 * MINUTE, 8 * MINUTE)
            failed = may_fail and rng.random() < 0.03
            if finished >= self.calendar.end_at:
                return None
            status = "failure" if failed else "success"
            self.deployments.write(
                self.graph.repo, state, environment, sha, status, start, finished
            )
            if failed:
                return None
            start = finished + rng.randint(3 * MINUTE, 20 * MINUTE)
        return start

    def _production(self, state: ServiceState, sha: str, start: int, kind: str) -> None:
        """Deploy to production: failed attempts, then a success, cancel or unfinished run."""
        rng = self.rng
        repo = self.graph.repo
        environment = self._production_name(state, start)
        end_at = self.calendar.end_at
        if kind != "rollback":
            start = self._failed_attempts(state, environment, sha, start)
        if start >= end_at:
            return

        finished = start + rng.randint(3 * MINUTE, 12 * MINUTE)
        if finished >= end_at:
            self.deployments.write(repo, state, environment, sha, "in_progress", start, None)
            return
        state.busy_until = finished

        if kind == "forward" and state.profile.status_style != "github" and rng.random() < 0.015:
            self.deployments.write(repo, state, environment, sha, "cancelled", start, finished)
            return

        pipeline_failed = rng.random() < 0.05
        deployment_id = self.deployments.write(
            repo, state, environment, sha, "success", start, finished, pipeline_failed
        )
        self._after_success(state, sha, finished, kind, deployment_id)

    def _failed_attempts(self, state: ServiceState, environment: str, sha: str, start: int) -> int:
        """Write the failed attempts before a deploy succeeds; return the next start."""
        rng = self.rng
        while rng.random() < 0.05:
            failed_at = start + rng.randint(1 * MINUTE, 6 * MINUTE)
            if failed_at >= self.calendar.end_at:
                break
            self.deployments.write(
                self.graph.repo, state, environment, sha, "failure", start, failed_at
            )
            start = failed_at + rng.randint(5 * MINUTE, 25 * MINUTE)
        return start

    def _after_success(
        self, state: ServiceState, sha: str, finished: int, kind: str, deployment_id: str
    ) -> None:
        rng = self.rng
        if sha == state.live_sha:
            return
        state.previous_live_sha = None if kind == "rollback" else state.live_sha
        state.live_sha = sha
        if kind == "rollback":
            return
        state.last_shipped, state.pending = state.pending, []
        if kind == "fix":
            state.frozen = False
        if kind == "forward" and rng.random() < 0.04:
            self.schedule(
                finished + rng.randint(1 * HOUR, 8 * HOUR), self.deploy, state, "redeploy"
            )
        is_baseline = state.previous_live_sha is None
        may_fail = kind == "forward" and not is_baseline and bool(state.last_shipped)
        if may_fail and rng.random() < state.profile.failure_rate:
            plan_failure(self, state, finished, deployment_id)

    def _production_name(self, state: ServiceState, at: int) -> str:
        profile = state.profile
        midpoint = self.calendar.day_start(self.calendar.first_day) + self.calendar.days * 43200
        if profile.early_production_name and at < midpoint:
            return profile.early_production_name
        return profile.production_name

    def _unlinked_incident(self, state: ServiceState, opened: int) -> None:
        median = state.profile.restore_minutes_median
        if median < 10:
            # Services with a kill switch restore within a few minutes, whatever broke.
            minutes = self.rng.lognormvariate(0.0, 0.2) * median
        else:
            minutes = self.rng.lognormvariate(0.0, 0.9) * median * 1.5
        self.incidents.open(state.profile.name, opened, opened + int(minutes * MINUTE))


def _poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count by Knuth's method (means here stay below about 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit = 2.718281828459045**-mean
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
