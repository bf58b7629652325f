"""The dbt models as Dagster assets, split around the Python containment step.

dbt models tagged ``before_containment`` (staging and the deployment models)
run first; the containment asset then computes which counted deployment first
ships each commit; every other model runs after it. dbt tests appear as asset
checks.
"""

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from dagster_project import (
    containment,
    containment_refresh,
    dbt_child,
    dbt_failures,
    dbt_partial_parse,
    engines,
    progress,
    settings,
)
from dagster_project.contract.dbt_vars import contract_vars
from dagster_project.dbt_resource import DoraDbtCliResource
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.project import dbt_project, ensure_manifest

BEFORE_CONTAINMENT = "tag:before_containment"
# A run with this tag rebuilds incremental dbt models from scratch.
FULL_REFRESH_TAG = "dora/full_refresh"
CONTAINMENT_TABLE = "containment__commit_deployments"
FIRST_STEP = "staging and deployment"
# dbt writes its file log (dbt.log) at debug level by default, which cost about
# 0.5 s of each dbt step on the bundled sample. Warnings and errors still reach
# the file, and a DBT_LOG_LEVEL_FILE set by the caller wins.
FILE_LOG_LEVEL_ENV = "DBT_LOG_LEVEL_FILE"
FILE_LOG_LEVEL = "warn"


class DoraTranslator(DagsterDbtTranslator):
    """Group each model by its folder (staging, intermediate, marts...)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "seed":
            return "seeds"
        return fqn[1] if len(fqn) > 2 else "dbt"


def _dbt_executable() -> str:
    """Return the dbt next to this Python, so the venv's dbt is used without PATH set.

    It is wrapped in the launcher of ``dbt_child``, so dbt dies with the refresh.
    """
    candidate = Path(sys.executable).with_name("dbt")
    found = str(candidate) if candidate.exists() else shutil.which("dbt")
    return dbt_child.launcher(found, MANIFEST.parent) if found else "dbt"


def _mart_models(manifest: Path) -> frozenset[str]:
    """Return the names of the models under models/marts, which the DuckDB file serves."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    return frozenset(
        node["name"]
        for node in nodes
        if node["resource_type"] == "model" and node["fqn"][1:2] == ["marts"]
    )


TRANSLATOR = DoraTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
MANIFEST = ensure_manifest()
MART_MODELS = _mart_models(MANIFEST)


def _dbt_vars(run_settings: RunSettingsResource) -> str:
    """Return the --vars of a build: settings that stay the same from run to run.

    The measurement time changes every run, so it goes in an environment
    variable instead (``dbt_partial_parse.AS_OF_ENV``): new --vars make dbt
    parse the whole project again.
    """
    config = run_settings.load()
    variables = config.dbt_vars()
    variables.update(contract_vars(run_settings.load_contracts()))
    return json.dumps(variables)


@contextlib.contextmanager
def _dbt_environment(as_of: str) -> Iterator[None]:
    """Set this run's as_of and the file log level for the dbt process, then restore both."""
    values = {dbt_partial_parse.AS_OF_ENV: as_of}
    values[FILE_LOG_LEVEL_ENV] = os.environ.get(FILE_LOG_LEVEL_ENV) or FILE_LOG_LEVEL
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _start_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    as_of: str,
    warehouse_path: str,
) -> tuple[Any, Path]:
    """Start dbt with the warehouse's saved parse state and this run's as_of."""
    project_dir = Path(dbt_project.project_dir)
    target = dbt_partial_parse.new_target_path(
        project_dir, context.op_execution_context.op.name, context.run.run_id, warehouse_path
    )
    with _dbt_environment(as_of):
        invocation = dbt.cli(args, context=context, target_path=target)
    return invocation, target


def _stream_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    step: str,
) -> Iterator[Any]:
    # profiles.yml reads the warehouse path from the environment of the dbt process.
    os.environ[settings.WAREHOUSE_ENV] = warehouse.resolved_path()
    dbt_child.mark_parent()
    engine = engines.open_engine()
    with warehouse.connect() as con:
        # Creates every raw table before the staging views read them. Another
        # engine than DuckDB gets a copy of the raw tables before the first step.
        if engine is not None and step == FIRST_STEP:
            progress.report(f"dbt: copying the raw tables to {engine.name}")
            engine.push(con, engines.raw_tables(con))
    progress.report(f"dbt: building the {step} models")
    # "buildable" runs a test in the step that builds the last of its parents, so a
    # relationship test between the two steps runs once, after both tables exist.
    # dbt unit tests check model logic on fixed inputs, so they run in the test suite
    # (tests/test_dbt_unit_tests.py), not in every refresh.
    args = [
        "build",
        "--indirect-selection",
        "buildable",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        _dbt_vars(run_settings),
    ]
    if context.run.tags.get(FULL_REFRESH_TAG) == "true":
        args.append("--full-refresh")
    as_of = run_settings.resolve_as_of(context).isoformat()
    invocation, target = _start_build(context, dbt, args, as_of, warehouse.resolved_path())
    reported: set[dg.AssetKey] = set()
    try:
        for event in invocation.stream():
            if isinstance(event, dg.Output | dg.MaterializeResult):
                reported.add(_asset_key(context, event))
                if len(reported) % 10 == 0:
                    progress.report(f"dbt: {len(reported)} models built")
            yield event
    except DagsterDbtCliRuntimeError as error:
        _raise_with_null_columns(error, target, warehouse, engine)
    _fail_on_unreported(context, reported, step)
    progress.report(f"dbt: {step} step done, {len(reported)} models built")
    dbt_partial_parse.save_state(Path(dbt_project.project_dir), target, warehouse.resolved_path())
    if engine is not None:
        _copy_marts_back(context, engine, warehouse)


def _raise_with_null_columns(
    error: DagsterDbtCliRuntimeError,
    target: Path,
    warehouse: WarehouseResource,
    engine: engines.Engine | None,
) -> None:
    """Raise ``error``, naming the null columns of failed not_null_columns tests on DuckDB.

    Other engines keep dbt's message, which names the test and its columns.
    """
    if engine is not None:
        raise error
    with warehouse.connect() as con:
        lines = dbt_failures.null_column_lines(target, con)
    if not lines:
        raise error
    # Without the cause, whose text is the same, the CLI prints dbt's message once.
    raise dg.Failure("\n".join([str(error).rstrip(), *lines])) from None


def _asset_key(context: dg.AssetExecutionContext, event: Any) -> dg.AssetKey:
    if isinstance(event, dg.MaterializeResult) and event.asset_key is not None:
        return event.asset_key
    return context.assets_def.keys_by_output_name[event.output_name]


def _fail_on_unreported(
    context: dg.AssetExecutionContext, reported: set[dg.AssetKey], step: str
) -> None:
    """Fail the step when dbt succeeded without reporting a selected model.

    Dagster skips every later step that reads an asset with no result, so a
    model lost between dbt and Dagster would otherwise end in a successful run
    whose marts were never rebuilt.
    """
    missing = sorted(key.to_user_string() for key in set(context.selected_asset_keys) - reported)
    if missing:
        raise dg.Failure(
            f"dbt finished the {step} step without a result for {len(missing)} selected "
            f"models ({', '.join(missing[:10])}); their tables may be stale. Look for lines "
            "that broke dbt's structured log in the step's output, then run the refresh again."
        )


def _copy_marts_back(
    context: dg.AssetExecutionContext, engine: engines.Engine, warehouse: WarehouseResource
) -> None:
    """Copy the marts this step built from the engine into the DuckDB file."""
    names = sorted(
        key.path[-1] for key in context.selected_asset_keys if key.path[-1] in MART_MODELS
    )
    if not names:
        return
    progress.report(f"dbt: copying {len(names)} mart tables back from {engine.name}")
    with warehouse.connect() as con:
        engine.pull(dict.fromkeys(names), con)


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    select=BEFORE_CONTAINMENT,
    name="dbt_before_containment",
    dagster_dbt_translator=TRANSLATOR,
)
def dbt_before_containment(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
):
    """Staging views and the deployment models the containment step reads."""
    yield from _stream_build(context, dbt, warehouse, run_settings, FIRST_STEP)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            CONTAINMENT_TABLE,
            deps=["int_commits", "int_production_deployments", "int_pull_requests"],
            group_name="intermediate",
            kinds={"python", "duckdb"},
            description=(
                "One row per (repo, commit, service): the first counted production deployment "
                "of the service that contains the commit. Computed by a graph walk in Python "
                "whose cost is linear in commits times services per repository plus deployments."
            ),
        ),
        dg.AssetSpec(
            containment.MERGE_MEMBERS_TABLE,
            deps=["int_commits", "int_pull_requests"],
            group_name="intermediate",
            kinds={"python", "duckdb"},
            description="One row per commit that a pull request's merge commit brings onto its branch.",
        ),
    ],
    name="containment",
)
def containment_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Walk the commit graph and rewrite or extend both containment tables in one step.

    A run tagged ``dora/full_refresh`` always walks all of history; any other
    run extends the stored tables when ``containment_refresh`` finds that safe.
    """
    progress.report("containment: walking the commit graph")
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    with warehouse.connect() as con:
        run = engines.run_containment(engines.open_engine(), con, full_refresh)
    if run.path == containment_refresh.FULL:
        context.log.info(f"Containment: walked all of history because {run.reason}")
    else:
        context.log.info(
            f"Containment: kept {run.reused_shipments} stored rows, walked "
            f"{run.walked_deployments} new deployments and {run.walked_merges} merge commits"
        )
    context.log.info(f"Containment: {run.shipments} (commit, service) pairs shipped")
    path = {
        "containment_path": dg.MetadataValue.text(run.path),
        "full_walk_reason": dg.MetadataValue.text(run.reason),
        "reused_row_count": dg.MetadataValue.int(run.reused_shipments),
        "walked_deployment_count": dg.MetadataValue.int(run.walked_deployments),
        "walked_merge_count": dg.MetadataValue.int(run.walked_merges),
    }
    yield dg.MaterializeResult(
        asset_key=CONTAINMENT_TABLE,
        metadata={"row_count": dg.MetadataValue.int(run.shipments), **path},
    )
    yield dg.MaterializeResult(
        asset_key=containment.MERGE_MEMBERS_TABLE,
        metadata={"row_count": dg.MetadataValue.int(run.merge_members), **path},
    )


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    exclude=BEFORE_CONTAINMENT,
    name="dbt_after_containment",
    dagster_dbt_translator=TRANSLATOR,
)
def dbt_after_containment(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
):
    """Changes, failures, incidents and the DORA marts."""
    yield from _stream_build(context, dbt, warehouse, run_settings, "metric")


defs = dg.Definitions(
    assets=[dbt_before_containment, containment_tables, dbt_after_containment],
    resources={
        "dbt": DoraDbtCliResource(project_dir=dbt_project, dbt_executable=_dbt_executable())
    },
)
