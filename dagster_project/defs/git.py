"""Dagster assets of the git source: local repositories, tags as deployments."""

import dagster as dg

from dagster_project import progress
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import git

GIT_TABLES = (git.COMMITS_TABLE, git.PULL_REQUESTS_TABLE, git.DEPLOYMENT_STATUSES_TABLE)

GIT_ASSET_SPECS = [
    dg.AssetSpec(
        ["raw", table],
        group_name="raw_git",
        description=f"{table.split('__')[1].replace('_', ' ').capitalize()} read from local git repositories.",
        kinds={"duckdb", "git"},
    )
    for table in GIT_TABLES
]


@dg.multi_asset(specs=GIT_ASSET_SPECS, name="raw_git")
def raw_git(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
):
    """Read every configured repository; rows of repositories no longer configured are removed."""
    config = run_settings.load()
    totals = {table: 0 for table in GIT_TABLES}
    quarantined = 0
    with warehouse.connect() as con:
        configured = [f"git:{repo.repo}" for repo in config.git_repos]
        for table in GIT_TABLES:
            placeholders = ", ".join("?" for _ in configured) or "''"
            con.execute(
                f"delete from {table} where _source like 'git:%' and _source not in ({placeholders})",
                configured,
            )
        for repo in config.git_repos:
            source_config = git.GitSourceConfig(
                path=repo.path,
                repo=repo.repo,
                branch=repo.branch,
                tag_rules=[
                    git.TagRule(rule.pattern, rule.service, rule.environment)
                    for rule in repo.tag_rules
                ],
                compute_patch_ids=repo.compute_patch_ids,
            )
            context.log.info(f"Reading git repository {repo.path} as {repo.repo}")
            extract = git.read_git_repository(source_config)
            for warning in extract.warnings:
                context.log.warning(f"git {repo.repo}: {warning}")
            counts = git.load_git_extract(con, extract)
            totals[git.COMMITS_TABLE] += counts["commits"]
            totals[git.PULL_REQUESTS_TABLE] += counts["pull_requests"]
            totals[git.DEPLOYMENT_STATUSES_TABLE] += counts["deployment_statuses"]
            quarantined += counts.get("quarantined", 0)
            progress.report(
                f"git {repo.repo}: {counts['commits']} commits, {counts['pull_requests']} pull "
                f"requests, {counts['deployment_statuses']} tag deployments"
            )
    if not config.git_repos:
        context.log.info("No git repository configured; the git source loads nothing.")
    for table in GIT_TABLES:
        yield dg.MaterializeResult(
            asset_key=["raw", table],
            metadata={
                "rows_loaded": dg.MetadataValue.int(totals[table]),
                "rows_quarantined": dg.MetadataValue.int(quarantined),
                "repositories": dg.MetadataValue.int(len(config.git_repos)),
            },
        )


defs = dg.Definitions(assets=[raw_git])
