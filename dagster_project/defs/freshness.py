"""Source freshness checks: one Dagster asset check per raw table with a dbt freshness threshold.

The ``source_freshness`` asset measures every raw table at the run's
measurement time (``dagster_project.freshness``) and rewrites the
``source_freshness`` table. It reports one check per raw table, which passes
when every source instance in the table is fresh. Otherwise the check fails
with severity WARN, or ERROR past ``error_after``, and the run goes on.

The step depends on no asset and has the lowest priority of the run, so the
in-process executor starts it only when no other step is ready: after every
source step has finished, succeeded or failed. A source that is down fails
its own step and still has its freshness measured in the same run. The
dashboard and the published marts depend on it, so they show this run's result.

The module has no ``from __future__ import annotations``: Dagster reads the
``context`` annotation at definition time and rejects it as a string.
"""

import json
from datetime import timedelta

import dagster as dg

from dagster_project import freshness, progress
from dagster_project.defs.dbt import MANIFEST
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource

FRESHNESS_KEY = dg.AssetKey(freshness.RESULTS_TABLE)
# Lower than every other step (default 0), so the step starts once nothing else is ready.
LAST_PRIORITY = "-1000"
TABLES = freshness.source_tables(json.loads(MANIFEST.read_text(encoding="utf-8")))


def check_name(table: freshness.SourceTable) -> str:
    """Return the name of the freshness check of one raw table."""
    return f"{table.table}_is_fresh"


def _check_result(
    table: freshness.SourceTable, findings: list[freshness.Finding]
) -> dg.AssetCheckResult:
    stale = [finding for finding in findings if finding.status != "pass"]
    severity = (
        dg.AssetCheckSeverity.ERROR
        if any(finding.status == "error" for finding in stale)
        else dg.AssetCheckSeverity.WARN
    )
    if not findings:
        description = "no rows loaded yet: not measured"
    elif stale:
        description = "stale: " + "; ".join(finding.describe() for finding in stale)
    else:
        description = "fresh: " + "; ".join(finding.describe() for finding in findings)
    return dg.AssetCheckResult(
        asset_key=FRESHNESS_KEY,
        check_name=check_name(table),
        passed=not stale,
        severity=severity,
        description=description,
        metadata={
            "source_instances": dg.MetadataValue.json(
                {
                    finding.source_instance: {
                        "loaded_at": finding.loaded_at.isoformat(),
                        "age_hours": round(finding.age.total_seconds() / 3600, 2),
                        "status": finding.status,
                    }
                    for finding in findings
                }
            ),
            "warn_after_hours": _hours(table.warn_after),
            "error_after_hours": _hours(table.error_after),
        },
    )


def _hours(span: timedelta | None) -> dg.MetadataValue:
    if span is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.float(span.total_seconds() / 3600)


@dg.asset(
    key=FRESHNESS_KEY,
    group_name="quality",
    kinds={"python", "duckdb"},
    op_tags={"dagster/priority": LAST_PRIORITY},
    check_specs=[
        dg.AssetCheckSpec(
            check_name(table),
            asset=FRESHNESS_KEY,
            description=(
                f"{table.table} ({table.source_name}) was loaded within its dbt freshness "
                "threshold of the measurement time"
            ),
        )
        for table in TABLES
    ],
    description=(
        "One row per raw table and source instance: the newest load, its age at the "
        "measurement time, the dbt thresholds and the status (pass, warn, error)."
    ),
)
def source_freshness(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
):
    as_of = run_settings.resolve_as_of(context)
    with warehouse.connect() as con:
        findings = freshness.measure(con, TABLES, as_of)
        freshness.store(con, findings)
    stale = [finding for finding in findings if finding.status != "pass"]
    for finding in stale:
        context.log.warning(f"Stale source: {finding.describe()}")
        progress.report(f"freshness: {finding.status}: {finding.describe()}")
    progress.report(f"freshness: {len(findings) - len(stale)} fresh, {len(stale)} stale")
    yield dg.MaterializeResult(
        asset_key=FRESHNESS_KEY,
        metadata={
            "measured_at": dg.MetadataValue.text(as_of.isoformat()),
            "measured": dg.MetadataValue.int(len(findings)),
            "stale": dg.MetadataValue.json(
                [
                    {
                        "table": finding.table.table,
                        "source_instance": finding.source_instance,
                        "status": finding.status,
                    }
                    for finding in stale
                ]
            ),
        },
    )
    for table in TABLES:
        yield _check_result(table, [finding for finding in findings if finding.table == table])


defs = dg.Definitions(assets=[source_freshness])
