"""Dagster assets of the git source: one partition per local repository, then one merge.

Each ``sources.git`` entry (or the clone given to ``dora refresh --git-repo``)
is a partition of ``extract_git``, keyed ``git:<repo>``, the ``_source`` of its
rows. A partition's run reads the repository and writes only its landing
file, so a missing or broken repository fails only its own partition.
``raw_git`` copies every configured repository's landing file into the
``raw_git__*`` tables. Unlike the merges of the API sources, it also deletes
the rows of repositories that are no longer configured, because the git
source has always loaded exactly the configured repositories.
"""

import dagster as dg
import duckdb

from dagster_project import landing, partitions, progress
from dagster_project.config import ConfigError, GitRepoConfig
from dagster_project.defs.landing import EXTRACTION_TAG, LandingResource, landing_key
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import git
from dagster_project.warehouse import RAW_TABLES

GROUP = "raw_git"
GIT_TABLES = {
    table: RAW_TABLES[table]
    for table in (git.COMMITS_TABLE, git.PULL_REQUESTS_TABLE, git.DEPLOYMENT_STATUSES_TABLE)
}
# Tables from which the merge deletes the rows of git repositories no longer configured.
PRUNED_TABLES = (*GIT_TABLES, *landing.BOOKKEEPING_TABLES)

RAW_SPECS = [
    dg.AssetSpec(
        ["raw", table],
        group_name=GROUP,
        description=(
            f"{table.split('__')[1].replace('_', ' ').capitalize()} read from local git "
            "repositories."
        ),
        kinds={"duckdb", "git"},
        deps=[landing_key(partitions.GIT)],
    )
    for table in GIT_TABLES
]


def configured_repo(run_settings: RunSettingsResource, key: str) -> GitRepoConfig:
    """Return the ``sources.git`` entry whose rows have ``_source`` equal to ``key``.

    Raises dg.Failure when no entry matches, which happens when a key outlives
    its configuration entry until the next key sync.
    """
    for repo in run_settings.load().git_repos:
        if f"git:{repo.repo}" == key:
            return repo
    raise dg.Failure(
        f"git partition {key!r} is not in sources.git of the configuration; add it back, "
        "or let the partition sync sensor (or dora refresh) delete the key"
    )


def source_config(repo: GitRepoConfig) -> git.GitSourceConfig:
    """Convert a ``sources.git`` entry to the settings of the git reader."""
    return git.GitSourceConfig(
        path=repo.path,
        repo=repo.repo,
        branch=repo.branch,
        tag_rules=[
            git.TagRule(rule.pattern, rule.service, rule.environment) for rule in repo.tag_rules
        ],
        compute_patch_ids=repo.compute_patch_ids,
    )


def read_repository(context: dg.AssetExecutionContext, repo: GitRepoConfig, key: str):
    """Read one repository; raise dg.Failure naming the path and the fix when it cannot be read."""
    context.log.info(f"Reading git repository {repo.path} as {repo.repo}")
    try:
        return git.read_git_repository(source_config(repo))
    except git.GitSourceError as error:
        raise dg.Failure(
            f"git partition {key}: {error}. Its landing file and warehouse rows are unchanged. "
            f"After the fix, run job {partitions.GIT.job_name} for partition {key} again "
            "(dora refresh runs every partition)"
        ) from None


@dg.asset(
    key=landing_key(partitions.GIT),
    partitions_def=partitions.GIT.partitions,
    group_name=GROUP,
    description=(
        "One local git repository's commits, pull requests and tag deployments, in its own "
        "landing file; one partition per sources.git entry."
    ),
    kinds={"duckdb", "git"},
    tags={EXTRACTION_TAG: partitions.GIT.kind},
)
def extract_git(
    context: dg.AssetExecutionContext,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
) -> dg.MaterializeResult:
    """Read the partition's repository and replace the rows of its landing file."""
    key = context.partition_key
    repo = configured_repo(run_settings, key)
    extract = read_repository(context, repo, key)
    with landing_files.write(partitions.GIT.kind, key, context.run.run_id, GIT_TABLES) as con:
        counts = git.load_git_extract(con, extract)
    # Logged after the load, which adds a warning for each tag that moved since the last run.
    for warning in extract.warnings:
        context.log.warning(f"git {repo.repo}: {warning}")
    progress.report(
        f"git {repo.repo}: {counts['commits']} commits, {counts['pull_requests']} pull "
        f"requests, {counts['deployment_statuses']} tag deployments"
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(repo.path)),
            "head_sha": dg.MetadataValue.text(extract.head_sha),
            "rows_loaded": dg.MetadataValue.json(
                {
                    git.COMMITS_TABLE: counts["commits"],
                    git.PULL_REQUESTS_TABLE: counts["pull_requests"],
                    git.DEPLOYMENT_STATUSES_TABLE: counts["deployment_statuses"],
                }
            ),
            "rows_quarantined": dg.MetadataValue.int(counts["quarantined"]),
            "moved_tag_deployments": dg.MetadataValue.int(counts["moved_tag_deployments"]),
        }
    )


def delete_removed_repositories(con: duckdb.DuckDBPyConnection, keys: list[str]) -> list[str]:
    """Delete the rows of every ``git:`` source that is not in ``keys``; return those sources.

    Runs in one transaction. The tables must exist.
    """
    removed: set[str] = set()
    for table in PRUNED_TABLES:
        rows = con.execute(
            f"select distinct _source from {table} "
            "where starts_with(_source, 'git:') and not list_contains(?::varchar[], _source)",
            [keys],
        ).fetchall()
        removed.update(row[0] for row in rows)
    if removed:
        landing.delete_sources(con, PRUNED_TABLES, sorted(removed))
    return sorted(removed)


def _merge_metadata(
    table: str, report: landing.MergeReport, keys: list[str], removed: list[str]
) -> dict[str, dg.MetadataValue]:
    return {
        "rows_merged": dg.MetadataValue.int(report.rows.get(table, 0)),
        "repositories": dg.MetadataValue.int(len(keys)),
        "partitions_merged": dg.MetadataValue.int(len(report.merged)),
        "partitions_without_landing_file": dg.MetadataValue.json(report.missing),
        "removed_repositories_deleted": dg.MetadataValue.json(removed),
    }


@dg.multi_asset(specs=RAW_SPECS, name="raw_git")
def raw_git(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
):
    """Merge every configured repository's landing file; delete the rows of removed ones."""
    try:
        keys = partitions.configured_keys(partitions.GIT, run_settings.load())
    except ConfigError as error:
        raise dg.Failure(str(error)) from None
    with warehouse.connect() as con:
        report = landing.merge_landing(
            con, landing_files.root(), partitions.GIT.kind, keys, GIT_TABLES
        )
        removed = delete_removed_repositories(con, keys)

    if not keys:
        context.log.info("No git repository configured; the git source loads nothing.")
    if report.missing:
        context.log.warning(
            f"No landing file yet for {', '.join(report.missing)}: their warehouse rows "
            f"are unchanged; run job {partitions.GIT.job_name} for those partitions"
        )
    if removed:
        context.log.info(
            f"Deleted the rows of git repositories no longer configured: {', '.join(removed)}"
        )
    context.log.info(f"Merged {len(report.merged)} git landing files")
    for spec in RAW_SPECS:
        table = spec.key.path[-1]
        yield dg.MaterializeResult(
            asset_key=spec.key, metadata=_merge_metadata(table, report, keys, removed)
        )


defs = dg.Definitions(assets=[extract_git, raw_git])
