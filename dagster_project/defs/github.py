"""Dagster assets of the GitHub source: a partitioned extraction, then one merge into the raw tables.

The repositories come from the ``sources.github`` section of the pipeline
configuration, described in docs/sources-github-gitlab.md. Each repository is
a partition of ``extract_github``, which writes the repository's landing
file; ``raw_github`` copies every configured repository's landing file into
the ``raw_github__*`` tables. With no repository configured there is no
partition, and the merge creates the raw tables empty, so the refresh job
also runs for teams without GitHub. The token is read from the environment
variable named by ``token_env`` only in a partition's run.
"""

import dagster as dg

from dagster_project import partitions
from dagster_project.clients.github import GitHubClient, github_session
from dagster_project.clients.http import RetryPolicy, read_token
from dagster_project.defs.api_sources import (
    ApiSource,
    asset_spec,
    configured_item,
    landing_metadata,
    run_extractors,
)
from dagster_project.defs.landing import EXTRACTION_TAG, LandingResource, landing_key, merge_asset
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import github as gh
from dagster_project.sources import github_extract as extract

GROUP = "raw_github"
TABLE_DESCRIPTIONS = {
    "raw_github__pull_requests": "Pull requests, fetched by update time.",
    "raw_github__pull_request_commits": "Commits of each pull request updated since the last run.",
    "raw_github__deployment_statuses": (
        "One row per status record of each GitHub deployment, plus one success record per "
        "release or matching tag when the repository deploys by releases or tags."
    ),
    "raw_github__workflow_runs": (
        "Runs of the configured deployment workflow on the deploy branch, with job finish times."
    ),
    "raw_github__commits": (
        "Commits of the production branch and, from the compare endpoint, the commits "
        "between consecutive production deployments, with parents."
    ),
    "raw_github__compares": (
        "One row per compared pair of deployed shas, with is_truncated for cut listings."
    ),
    "raw_github__releases": "Releases.",
    "raw_github__tags": "Tags and the sha each points at.",
    "raw_github__incidents": "Issues carrying the incident label (pull requests skipped).",
}
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

    def run(self, context, run_settings, key: str, connect, entities: list[str]):
        """Run the extractors of ``entities`` for the repository whose source is ``key``."""
        config = self.settings(run_settings)
        repos = configured_item(SOURCE, config.repos, key, "sources.github.repos")
        return run_extractors(
            context,
            SOURCE,
            repos,
            base_url=self.base_url or config.base_url,
            token=self.token or read_token(config.token_env),
            connect=connect,
            session_options={
                "timeout": self.timeout_seconds,
                "retry": RetryPolicy(max_retries=self.max_retries),
            },
            entities=entities,
        )


RAW_SPECS = [
    asset_spec(GROUP, table, description, deps=[landing_key(partitions.GITHUB)])
    for table, description in TABLE_DESCRIPTIONS.items()
]


@dg.asset(
    key=landing_key(partitions.GITHUB),
    partitions_def=partitions.GITHUB.partitions,
    group_name=GROUP,
    description=(
        "One GitHub repository's rows, cursors and ETags, in its own landing file; "
        "one partition per configured repository."
    ),
    kinds={"duckdb", "python"},
    tags={EXTRACTION_TAG: "github"},
)
def extract_github(
    context: dg.AssetExecutionContext,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
    github: GitHubResource,
) -> dg.MaterializeResult:
    """Run every GitHub extractor for the partition's repository, in dependency order."""
    key = context.partition_key
    report = github.run(
        context,
        run_settings,
        key,
        connect=lambda: landing_files.write(
            partitions.GITHUB.kind, key, context.run.run_id, gh.GITHUB_TABLES
        ),
        entities=list(extract.EXTRACTORS),
    )
    return dg.MaterializeResult(metadata=landing_metadata(report))


raw_github = merge_asset(partitions.GITHUB, gh.GITHUB_TABLES, RAW_SPECS, "raw_github")

GITHUB_ASSETS = [extract_github, raw_github]

defs = dg.Definitions(assets=GITHUB_ASSETS, resources={"github": GitHubResource()})
