"""The organisations the sample generator simulates, one per size."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ServiceProfile:
    """Deployment, failure and recovery settings of one service."""

    name: str
    # Production deploy slots per working day; ignored when every merge deploys.
    deploys_per_working_day: float
    # Continuous deployment: every merge to main starts a production deploy.
    deploys_on_merge: bool
    # Share of production deployments that ship a change that breaks something.
    failure_rate: float
    production_name: str
    # Environment spelling used before the window's midpoint, then `production_name`.
    early_production_name: str | None
    pre_production: tuple[str, ...]
    # "github" histories list states newest first and mark superseded deployments
    # `inactive`; "gitlab" ones carry the surrounding pipeline's result.
    status_style: str
    restore_minutes_median: float
    unlinked_incidents_per_day: float


@dataclass(frozen=True)
class RepoProfile:
    """A repository: its merge strategy, pull-request flow and the services it builds."""

    name: str
    # "merge" (merge commits), "squash" or "rebase".
    merge_strategy: str
    prs_per_working_day: float
    # Pull-request open-to-merge time is log-normal with this median and sigma.
    pr_hours_median: float
    pr_hours_sigma: float
    branch_commits_mean: float
    bot_share: float
    draft_share: float
    direct_push_share: float
    services: tuple[ServiceProfile, ...]


@dataclass(frozen=True)
class OrgProfile:
    """A whole organisation for one sample size."""

    days: int
    weekend_factor: float
    repos: tuple[RepoProfile, ...]

    @property
    def services(self) -> tuple[ServiceProfile, ...]:
        return tuple(service for repo in self.repos for service in repo.services)


def small_profile() -> OrgProfile:
    """Return the 90-day, three-repository organisation committed as the sample."""
    web = ServiceProfile(
        name="web",
        deploys_per_working_day=5.5,
        deploys_on_merge=False,
        failure_rate=0.10,
        production_name="production",
        early_production_name=None,
        pre_production=("staging",),
        status_style="github",
        restore_minutes_median=40,
        unlinked_incidents_per_day=0.05,
    )
    checkout = replace(
        web,
        name="checkout",
        deploys_per_working_day=3.0,
        failure_rate=0.015,
        restore_minutes_median=25,
        unlinked_incidents_per_day=0.02,
    )
    payments = ServiceProfile(
        name="payments",
        deploys_per_working_day=1.6,
        deploys_on_merge=False,
        failure_rate=0.12,
        production_name="Prod",
        early_production_name=None,
        pre_production=("staging", "preprod"),
        status_style="gitlab",
        restore_minutes_median=90,
        unlinked_incidents_per_day=0.04,
    )
    accounts = ServiceProfile(
        name="accounts",
        deploys_per_working_day=0.0,
        deploys_on_merge=True,
        failure_rate=0.012,
        production_name="production",
        early_production_name="live",
        pre_production=("staging",),
        status_style="plain",
        restore_minutes_median=2.5,
        unlinked_incidents_per_day=0.01,
    )
    storefront = RepoProfile(
        name="storefront",
        merge_strategy="merge",
        prs_per_working_day=9.0,
        pr_hours_median=1.5,
        pr_hours_sigma=1.1,
        branch_commits_mean=2.5,
        bot_share=0.05,
        draft_share=0.12,
        direct_push_share=0.02,
        services=(web, checkout),
    )
    payments_repo = RepoProfile(
        name="payments",
        merge_strategy="squash",
        prs_per_working_day=3.0,
        pr_hours_median=18.0,
        pr_hours_sigma=1.0,
        branch_commits_mean=3.0,
        bot_share=0.08,
        draft_share=0.2,
        direct_push_share=0.0,
        services=(payments,),
    )
    accounts_repo = RepoProfile(
        name="accounts",
        merge_strategy="rebase",
        prs_per_working_day=3.0,
        pr_hours_median=0.8,
        pr_hours_sigma=0.7,
        branch_commits_mean=1.3,
        bot_share=0.04,
        draft_share=0.05,
        direct_push_share=0.03,
        services=(accounts,),
    )
    return OrgProfile(
        days=90, weekend_factor=0.12, repos=(storefront, payments_repo, accounts_repo)
    )


_NAME_PARTS = [
    "catalog",
    "search",
    "cart",
    "checkout",
    "billing",
    "ledger",
    "identity",
    "profile",
    "notify",
    "media",
    "pricing",
    "inventory",
    "orders",
    "shipping",
    "reviews",
    "gateway",
    "reports",
    "audit",
    "config",
    "session",
    "ratings",
    "coupons",
    "tax",
    "fraud",
]


def large_profile(seed: int, multiplier: int = 1) -> OrgProfile:
    """Return the two-year organisation of about 50 services times `multiplier`.

    Rates are sized so that one multiple yields about 200,000 pull requests,
    1,000,000 commits, 150,000 deployment records and 5,000 incidents.
    """
    rng = random.Random(f"profile/{seed}/{multiplier}")
    base = small_profile()
    templates = base.services
    repos: list[RepoProfile] = []
    service_count = 0
    index = 0
    while service_count < 50 * multiplier:
        index += 1
        strategy = rng.choices(("merge", "squash", "rebase"), weights=(6, 3, 1))[0]
        width = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
        repo_name = f"{rng.choice(_NAME_PARTS)}-{index}"
        services = []
        for position in range(width):
            template = rng.choice(templates)
            services.append(
                replace(
                    template,
                    name=f"{repo_name}-{_NAME_PARTS[position * 7 % len(_NAME_PARTS)]}",
                    deploys_per_working_day=round(rng.uniform(0.82, 2.0), 2),
                    deploys_on_merge=rng.random() < 0.1,
                    failure_rate=round(rng.uniform(0.005, 0.12), 3),
                    unlinked_incidents_per_day=round(rng.uniform(0.0065, 0.021), 4),
                )
            )
        service_count += width
        repos.append(
            RepoProfile(
                name=repo_name,
                merge_strategy=strategy,
                prs_per_working_day=round(rng.uniform(4.7, 15.7) * width**0.5, 2),
                pr_hours_median=round(rng.lognormvariate(1.2, 0.9), 2),
                pr_hours_sigma=round(rng.uniform(0.6, 1.4), 2),
                branch_commits_mean=round(rng.uniform(3.0, 5.3), 2),
                bot_share=round(rng.uniform(0.02, 0.1), 3),
                draft_share=round(rng.uniform(0.05, 0.2), 3),
                direct_push_share=round(rng.uniform(0.0, 0.03), 3),
                services=tuple(services),
            )
        )
    return OrgProfile(days=730, weekend_factor=0.1, repos=tuple(repos))


def profile_for(size: str, seed: int) -> OrgProfile:
    """Return the organisation of a size name: `small`, `large` or `xlarge`."""
    if size == "small":
        return small_profile()
    if size == "large":
        return large_profile(seed)
    if size == "xlarge":
        return large_profile(seed, multiplier=5)
    raise ValueError(f"unknown sample size {size!r}; use small, large or xlarge")
