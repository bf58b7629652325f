"""Dagster assets of the GitHub source: one asset per raw table, every configured repository.

The repositories come from the ``sources.github`` section of the pipeline
configuration, described in docs/sources-github-gitlab.md. With none
configured, every asset materializes with zero rows, so the refresh job also
runs for teams without GitHub. The token is read from the environment
variable named by ``token_env`` only when a repository is configured.
"""

import dagster as dg

from dagster_project.clients.github import GitHubClient, github_session
from dagster_project.clients.http import RetryPolicy, read_token
from dagster_project.defs.api_sources import ApiSource, asset_spec, metadata, run_extractors
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import github as gh
from dagster_project.sources import github_extract as extract

GROUP = "raw_github"
SOURCE = ApiSource(
    system="GitHub",
    item_kind="repositories",
    open_session=github_session,
    make_client=GitHubClient,
    extractors=extract.EXTRACTORS,
    ensure_tables=extract.ensure_tables,
)


class GitHubResource(dg.ConfigurableResource):
    """Overrides of the GitHub settings of the configuration file.

    ``token`` may be set with ``dg.EnvVar("NAME")``; empty means the variable
    named by ``token_env`` in the configuration. ``base_url`` empty means the
    configured one (GitHub Enterprise: ``https://<host>/api/v3``).
    """

    token: str = ""
    base_url: str = ""
    max_retries: int = 5
    timeout_seconds: float = 30.0

    def settings(self, run_settings: RunSettingsResource) -> gh.GitHubConfig:
        return gh.parse_github_config(run_settings.load().sources.get("github"))

    def run(self, context, run_settings, warehouse: WarehouseResource, entities: list[str]):
        """Run the extractors of ``entities`` for every configured repository."""
        config = self.settings(run_settings)
        token = (self.token or read_token(config.token_env)) if config.repos else None
        return run_extractors(
            context,
            SOURCE,
            config.repos,
            base_url=self.base_url or config.base_url,
            token=token,
            connect=warehouse.connect,
            session_options={
                "timeout": self.timeout_seconds,
                "retry": RetryPolicy(max_retries=self.max_retries),
            },
            entities=entities,
        )


def _single_asset(
    entity: str,
    table: str,
    description: str,
    deps: list[str] | None = None,
    more_entities: tuple[str, ...] = (),
):
    """Build the asset of one raw table, filled by ``entity`` and then ``more_entities``."""

    @dg.multi_asset(specs=[asset_spec(GROUP, table, description, deps)], name=table)
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        run_settings: RunSettingsResource,
        github: GitHubResource,
    ):
        report = github.run(context, run_settings, warehouse, [entity, *more_entities])
        return dg.MaterializeResult(asset_key=["raw", table], metadata=metadata(table, report))

    return _asset


raw_github__pull_requests = _single_asset(
    "pull_requests", "raw_github__pull_requests", "Pull requests, fetched by update time."
)
raw_github__pull_request_commits = _single_asset(
    "pull_request_commits",
    "raw_github__pull_request_commits",
    "Commits of each pull request updated since the last run.",
    deps=["raw_github__pull_requests"],
)
raw_github__deployment_statuses = _single_asset(
    "deployment_statuses",
    "raw_github__deployment_statuses",
    "One row per status record of each GitHub deployment, plus one success record per "
    "release or matching tag when the repository deploys by releases or tags.",
    deps=["raw_github__releases", "raw_github__tags"],
    more_entities=("release_deployments",),
)
raw_github__workflow_runs = _single_asset(
    "workflow_runs",
    "raw_github__workflow_runs",
    "Runs of the configured deployment workflow on the deploy branch, with job finish times.",
)
raw_github__releases = _single_asset("releases", "raw_github__releases", "Releases.")
raw_github__tags = _single_asset("tags", "raw_github__tags", "Tags and the sha each points at.")
raw_github__incidents = _single_asset(
    "incidents",
    "raw_github__incidents",
    "Issues carrying the incident label (pull requests skipped).",
)


@dg.multi_asset(
    specs=[
        asset_spec(
            GROUP,
            "raw_github__commits",
            "Commits of the production branch and, from the compare endpoint, the commits "
            "between consecutive production deployments, with parents.",
            deps=["raw_github__deployment_statuses", "raw_github__workflow_runs"],
        ),
        asset_spec(
            GROUP,
            "raw_github__compares",
            "One row per compared pair of deployed shas, with is_truncated for cut listings.",
        ),
    ],
    name="raw_github__commits",
)
def raw_github__commits(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    github: GitHubResource,
):
    """Load the production branch's commits, then compare consecutive production shas."""
    report = github.run(context, run_settings, warehouse, ["commits", "compares"])
    for table in ("raw_github__commits", "raw_github__compares"):
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata(table, report))


GITHUB_ASSETS = [
    raw_github__pull_requests,
    raw_github__pull_request_commits,
    raw_github__deployment_statuses,
    raw_github__workflow_runs,
    raw_github__commits,
    raw_github__releases,
    raw_github__tags,
    raw_github__incidents,
]

defs = dg.Definitions(assets=GITHUB_ASSETS, resources={"github": GitHubResource()})
