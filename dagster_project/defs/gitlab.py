"""Dagster assets of the GitLab source: a partitioned extraction, then one merge into the raw tables.

The projects come from the ``sources.gitlab`` section of the pipeline
configuration, described in docs/sources-github-gitlab.md. Each project is a
partition of ``extract_gitlab``, which writes the project's landing file;
``raw_gitlab`` copies every configured project's landing file into the
``raw_gitlab__*`` tables. With no project configured there is no partition,
and the merge creates the raw tables empty, so the refresh job also runs for
teams without GitLab. The token is read from the environment variable named
by ``token_env`` only in a partition's run.
"""

import dagster as dg

from dagster_project import partitions
from dagster_project.clients.gitlab import GitLabClient, gitlab_session
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
from dagster_project.sources import gitlab as gl
from dagster_project.sources import gitlab_extract as extract

GROUP = "raw_gitlab"
TABLE_DESCRIPTIONS = {
    "raw_gitlab__merge_requests": "Merge requests, fetched by update time.",
    "raw_gitlab__merge_request_commits": "Commits of each merge request updated since the last run.",
    "raw_gitlab__deployment_statuses": (
        "One row per GitLab deployment with its current status and environment tier."
    ),
    "raw_gitlab__pipelines": "Pipelines of the configured deploy ref, with their finish times.",
    "raw_gitlab__commits": (
        "Commits of the production branch and, from the compare endpoint, the commits "
        "between consecutive production deployments, with parents."
    ),
    "raw_gitlab__compares": (
        "One row per compared pair of deployed shas, with is_truncated for cut listings."
    ),
    "raw_gitlab__incidents": "Issues of type incident.",
}
SOURCE = ApiSource(
    system="GitLab",
    item_kind="projects",
    open_session=gitlab_session,
    make_client=GitLabClient,
    extractors=extract.EXTRACTORS,
    ensure_tables=extract.ensure_tables,
)


class GitLabResource(dg.ConfigurableResource):
    """Overrides of the GitLab settings of the configuration file.

    ``token`` may be set with ``dg.EnvVar("NAME")``; empty means the variable
    named by ``token_env`` in the configuration. ``base_url`` empty means the
    configured one (self-managed: ``https://<host>/api/v4``).
    """

    token: str = ""
    base_url: str = ""
    max_retries: int = 5
    timeout_seconds: float = 30.0

    def settings(self, run_settings: RunSettingsResource) -> gl.GitLabConfig:
        return gl.parse_gitlab_config(run_settings.load().sources.get("gitlab"))

    def run(self, context, run_settings, key: str, connect, entities: list[str]):
        """Run the extractors of ``entities`` for the project whose source is ``key``."""
        config = self.settings(run_settings)
        projects = configured_item(SOURCE, config.projects, key, "sources.gitlab.projects")
        return run_extractors(
            context,
            SOURCE,
            projects,
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
    asset_spec(GROUP, table, description, deps=[landing_key(partitions.GITLAB)])
    for table, description in TABLE_DESCRIPTIONS.items()
]


@dg.asset(
    key=landing_key(partitions.GITLAB),
    partitions_def=partitions.GITLAB.partitions,
    group_name=GROUP,
    description=(
        "One GitLab project's rows, cursors and ETags, in its own landing file; "
        "one partition per configured project."
    ),
    kinds={"duckdb", "python"},
    tags={EXTRACTION_TAG: "gitlab"},
)
def extract_gitlab(
    context: dg.AssetExecutionContext,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
    gitlab: GitLabResource,
) -> dg.MaterializeResult:
    """Run every GitLab extractor for the partition's project, in dependency order."""
    key = context.partition_key
    report = gitlab.run(
        context,
        run_settings,
        key,
        connect=lambda: landing_files.write(
            partitions.GITLAB.kind, key, context.run.run_id, gl.GITLAB_TABLES
        ),
        entities=list(extract.EXTRACTORS),
    )
    return dg.MaterializeResult(metadata=landing_metadata(report))


raw_gitlab = merge_asset(partitions.GITLAB, gl.GITLAB_TABLES, RAW_SPECS, "raw_gitlab")

GITLAB_ASSETS = [extract_gitlab, raw_gitlab]

defs = dg.Definitions(assets=GITLAB_ASSETS, resources={"gitlab": GitLabResource()})
