"""Dagster assets of the GitHub source: one asset per raw table, every configured repository.

The repositories come from the ``sources.github`` section of the pipeline
configuration (see docs/sources-github-gitlab.md); with none configured every
asset materializes with zero rows, so the refresh job runs for teams without
GitHub. The token is read from the environment variable named by
``token_env`` only when a repository is configured.
"""

import dagster as dg

from dagster_project.clients.github import GitHubClient, github_session
from dagster_project.clients.http import (
    ApiError,
    RequestStats,
    RetryPolicy,
    WarehouseEtagStore,
    read_token,
)
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import github as gh
from dagster_project.sources import github_extract as extract


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
        section = run_settings.load().sources.get("github")
        return gh.parse_github_config(section)

    def resolve_token(self, config: gh.GitHubConfig) -> str | None:
        return self.token or read_token(config.token_env)


def _run_entity(
    context: dg.AssetExecutionContext,
    entities: list[str],
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    github: GitHubResource,
) -> tuple[extract.LoadResult, RequestStats, dict[str, str | None]]:
    """Run the extractors of ``entities`` for every configured repository."""
    config = github.settings(run_settings)
    total = extract.LoadResult()
    stats = RequestStats()
    cursors: dict[str, str | None] = {}
    token = None
    if not config.repos:
        context.log.info("No GitHub repositories configured; nothing to extract.")
    else:
        token = github.resolve_token(config)
    base_url = github.base_url or config.base_url
    with warehouse.connect() as con:
        extract.ensure_tables(con)
        for repo in config.repos:
            context.log.info(
                f"GitHub {repo.repo}: extracting {', '.join(entities)} from {base_url}"
            )
            session = github_session(
                base_url,
                token=token,
                etag_store=WarehouseEtagStore(con, repo.source),
                timeout=github.timeout_seconds,
                retry=RetryPolicy(max_retries=github.max_retries),
                logger=context.log,
            )
            with session:
                client = GitHubClient(session, repo.repo)
                for entity in entities:
                    try:
                        result = extract.EXTRACTORS[entity](con, client, repo)
                    except ApiError as error:
                        raise dg.Failure(
                            f"GitHub {repo.repo} {entity}: {error}; the cursor was not moved, "
                            "so the next run fetches the same objects again"
                        ) from None
                    total.merge(result)
                    cursors[f"{repo.repo}:{entity}"] = result.cursor
            for field in ("requests", "not_modified", "retries", "rate_limit_waits"):
                setattr(stats, field, getattr(stats, field) + getattr(session.stats, field))
    if total.skipped:
        context.log.info(f"Skipped {total.skipped} GitHub objects that are not of this entity")
    if total.rejected:
        context.log.warning(
            f"Quarantined {total.rejected} GitHub objects; see the quarantine table"
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
        group_name="raw_github",
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
        github: GitHubResource,
    ):
        result, stats, cursors = _run_entity(context, [entity], warehouse, run_settings, github)
        return dg.MaterializeResult(
            asset_key=["raw", table], metadata=_metadata(table, result, stats, cursors)
        )

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
    "One row per status record of each GitHub deployment.",
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
        _spec(
            "raw_github__commits",
            "Commits of the default branch and, from the compare endpoint, the commits "
            "between consecutive production deployments, with parents.",
            deps=["raw_github__deployment_statuses", "raw_github__workflow_runs"],
        ),
        _spec(
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
    result, stats, cursors = _run_entity(
        context, ["commits", "compares"], warehouse, run_settings, github
    )
    for table in ("raw_github__commits", "raw_github__compares"):
        yield dg.MaterializeResult(
            asset_key=["raw", table], metadata=_metadata(table, result, stats, cursors)
        )


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
