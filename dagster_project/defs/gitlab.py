"""Dagster assets of the GitLab source: one asset per raw table, every configured project.

The projects come from the ``sources.gitlab`` section of the pipeline
configuration (see docs/sources-github-gitlab.md); with none configured every
asset materializes with zero rows, so the refresh job runs for teams without
GitLab. The token is read from the environment variable named by
``token_env`` only when a project is configured.
"""

import dagster as dg

from dagster_project.clients.gitlab import GitLabClient, gitlab_session
from dagster_project.clients.http import (
    ApiError,
    RequestStats,
    RetryPolicy,
    WarehouseEtagStore,
    read_token,
)
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import gitlab as gl
from dagster_project.sources import gitlab_extract as extract


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
        section = run_settings.load().sources.get("gitlab")
        return gl.parse_gitlab_config(section)

    def resolve_token(self, config: gl.GitLabConfig) -> str | None:
        return self.token or read_token(config.token_env)


def _run_entity(
    context: dg.AssetExecutionContext,
    entities: list[str],
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    gitlab: GitLabResource,
) -> tuple[extract.LoadResult, RequestStats, dict[str, str | None]]:
    """Run the extractors of ``entities`` for every configured repository."""
    config = gitlab.settings(run_settings)
    total = extract.LoadResult()
    stats = RequestStats()
    cursors: dict[str, str | None] = {}
    token = None
    if not config.projects:
        context.log.info("No GitLab projects configured; nothing to extract.")
    else:
        token = gitlab.resolve_token(config)
    base_url = gitlab.base_url or config.base_url
    with warehouse.connect() as con:
        extract.ensure_tables(con)
        for repo in config.projects:
            context.log.info(
                f"GitLab {repo.project}: extracting {', '.join(entities)} from {base_url}"
            )
            session = gitlab_session(
                base_url,
                token=token,
                etag_store=WarehouseEtagStore(con, repo.source),
                timeout=gitlab.timeout_seconds,
                retry=RetryPolicy(max_retries=gitlab.max_retries),
                logger=context.log,
            )
            with session:
                client = GitLabClient(session, repo.project)
                for entity in entities:
                    try:
                        result = extract.EXTRACTORS[entity](con, client, repo)
                    except ApiError as error:
                        raise dg.Failure(
                            f"GitLab {repo.project} {entity}: {error}; the cursor was not moved, "
                            "so the next run fetches the same objects again"
                        ) from None
                    total.merge(result)
                    cursors[f"{repo.project}:{entity}"] = result.cursor
            for field in ("requests", "not_modified", "retries", "rate_limit_waits"):
                setattr(stats, field, getattr(stats, field) + getattr(session.stats, field))
    if total.skipped:
        context.log.info(f"Skipped {total.skipped} GitLab objects that are not of this entity")
    if total.rejected:
        context.log.warning(
            f"Quarantined {total.rejected} GitLab objects; see the quarantine table"
        )
    for note in total.notes:
        context.log.warning(note)
    return total, stats, cursors


def _metadata(table: str, result: extract.LoadResult, stats: RequestStats, cursors) -> dict:
    return {
        "rows_loaded": dg.MetadataValue.int(result.rows.get(table, 0)),
        "rows_quarantined": dg.MetadataValue.int(result.rejected),
        "objects_skipped": dg.MetadataValue.int(result.skipped),
        "api_requests": dg.MetadataValue.int(stats.requests),
        "not_modified_304": dg.MetadataValue.int(stats.not_modified),
        "retries": dg.MetadataValue.int(stats.retries),
        "rate_limit_waits": dg.MetadataValue.int(stats.rate_limit_waits),
        "cursors": dg.MetadataValue.json(cursors),
    }


def _spec(table: str, description: str, deps: list[str] | None = None) -> dg.AssetSpec:
    return dg.AssetSpec(
        ["raw", table],
        group_name="raw_gitlab",
        description=description,
        kinds={"duckdb", "python"},
        deps=[["raw", dep] for dep in deps or []],
    )


def _single_asset(entity: str, table: str, description: str, deps: list[str] | None = None):
    @dg.multi_asset(specs=[_spec(table, description, deps)], name=table)
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        run_settings: RunSettingsResource,
        gitlab: GitLabResource,
    ):
        result, stats, cursors = _run_entity(context, [entity], warehouse, run_settings, gitlab)
        return dg.MaterializeResult(
            asset_key=["raw", table], metadata=_metadata(table, result, stats, cursors)
        )

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
        _spec(
            "raw_gitlab__commits",
            "Commits of the default branch and, from the compare endpoint, the commits "
            "between consecutive production deployments, with parents.",
            deps=["raw_gitlab__deployment_statuses", "raw_gitlab__pipelines"],
        ),
        _spec(
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
    result, stats, cursors = _run_entity(
        context, ["commits", "compares"], warehouse, run_settings, gitlab
    )
    for table in ("raw_gitlab__commits", "raw_gitlab__compares"):
        yield dg.MaterializeResult(
            asset_key=["raw", table], metadata=_metadata(table, result, stats, cursors)
        )


GITLAB_ASSETS = [
    raw_gitlab__merge_requests,
    raw_gitlab__merge_request_commits,
    raw_gitlab__deployment_statuses,
    raw_gitlab__pipelines,
    raw_gitlab__commits,
    raw_gitlab__incidents,
]

defs = dg.Definitions(assets=GITLAB_ASSETS, resources={"gitlab": GitLabResource()})
