"""Dagster assets of the GitLab source: one asset per raw table, every configured project.

The projects come from the ``sources.gitlab`` section of the pipeline
configuration, described in docs/sources-github-gitlab.md. With none
configured, every asset materializes with zero rows, so the refresh job also
runs for teams without GitLab. The token is read from the environment
variable named by ``token_env`` only when a project is configured.
"""

import dagster as dg

from dagster_project.clients.gitlab import GitLabClient, gitlab_session
from dagster_project.clients.http import RetryPolicy, read_token
from dagster_project.defs.api_sources import ApiSource, asset_spec, metadata, run_extractors
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import gitlab as gl
from dagster_project.sources import gitlab_extract as extract

GROUP = "raw_gitlab"
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

    def run(self, context, run_settings, warehouse: WarehouseResource, entities: list[str]):
        """Run the extractors of ``entities`` for every configured project."""
        config = self.settings(run_settings)
        token = (self.token or read_token(config.token_env)) if config.projects else None
        return run_extractors(
            context,
            SOURCE,
            config.projects,
            base_url=self.base_url or config.base_url,
            token=token,
            connect=warehouse.connect,
            session_options={
                "timeout": self.timeout_seconds,
                "retry": RetryPolicy(max_retries=self.max_retries),
            },
            entities=entities,
        )


def _single_asset(entity: str, table: str, description: str, deps: list[str] | None = None):
    @dg.multi_asset(specs=[asset_spec(GROUP, table, description, deps)], name=table)
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        run_settings: RunSettingsResource,
        gitlab: GitLabResource,
    ):
        report = gitlab.run(context, run_settings, warehouse, [entity])
        return dg.MaterializeResult(asset_key=["raw", table], metadata=metadata(table, report))

    return _asset


raw_gitlab__merge_requests = _single_asset(
    "merge_requests", "raw_gitlab__merge_requests", "Merge requests, fetched by update time."
)
raw_gitlab__merge_request_commits = _single_asset(
    "merge_request_commits",
    "raw_gitlab__merge_request_commits",
    "Commits of each merge request updated since the last run.",
    deps=["raw_gitlab__merge_requests"],
)
raw_gitlab__deployment_statuses = _single_asset(
    "deployment_statuses",
    "raw_gitlab__deployment_statuses",
    "One row per GitLab deployment with its current status and environment tier.",
)
raw_gitlab__pipelines = _single_asset(
    "pipelines",
    "raw_gitlab__pipelines",
    "Pipelines of the configured deploy ref, with their finish times.",
)
raw_gitlab__incidents = _single_asset(
    "incidents", "raw_gitlab__incidents", "Issues of type incident."
)


@dg.multi_asset(
    specs=[
        asset_spec(
            GROUP,
            "raw_gitlab__commits",
            "Commits of the production branch and, from the compare endpoint, the commits "
            "between consecutive production deployments, with parents.",
            deps=["raw_gitlab__deployment_statuses", "raw_gitlab__pipelines"],
        ),
        asset_spec(
            GROUP,
            "raw_gitlab__compares",
            "One row per compared pair of deployed shas, with is_truncated for cut listings.",
        ),
    ],
    name="raw_gitlab__commits",
)
def raw_gitlab__commits(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    gitlab: GitLabResource,
):
    """Load the production branch's commits, then compare consecutive production shas."""
    report = gitlab.run(context, run_settings, warehouse, ["commits", "compares"])
    for table in ("raw_gitlab__commits", "raw_gitlab__compares"):
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata(table, report))


GITLAB_ASSETS = [
    raw_gitlab__merge_requests,
    raw_gitlab__merge_request_commits,
    raw_gitlab__deployment_statuses,
    raw_gitlab__pipelines,
    raw_gitlab__commits,
    raw_gitlab__incidents,
]

defs = dg.Definitions(assets=GITLAB_ASSETS, resources={"gitlab": GitLabResource()})
