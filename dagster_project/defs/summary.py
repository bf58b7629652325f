"""The last step of a refresh: the headline numbers, logged and printed."""

import dagster as dg

from dagster_project import summary, warehouse
from dagster_project.defs.resources import WarehouseResource

SUMMARY_METADATA_KEY = "summary"
MART_KEYS = [
    dg.AssetKey(name)
    for name in ("fct_deployments", "fct_changes", "fct_incidents", "pipeline_settings")
]


@dg.asset(deps=MART_KEYS, group_name="reports", kinds={"python"})
def refresh_summary(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The four headline numbers of the trailing 30 days, per service and overall."""
    path = warehouse.resolved_path()
    with _read(path) as con:
        window, rows = summary.summary_rows(con)
        text = summary.render_summary(con, window, rows, path)
    print(text, flush=True)
    context.log.info("\n" + text)
    overall = rows[-1]
    metadata = {
        # `dora refresh` prints this text after the run instead of computing it again.
        SUMMARY_METADATA_KEY: dg.MetadataValue.md(summary.summary_markdown(text)),
        "warehouse": dg.MetadataValue.path(path),
    }
    for name in (
        "deployments_per_day",
        "median_pr_lead_time_hours",
        "change_failure_rate",
        "mttr_minutes",
    ):
        if overall[name] is not None:
            metadata[name] = dg.MetadataValue.float(float(overall[name]))
    return dg.MaterializeResult(metadata=metadata)


def _read(path: str):
    return warehouse.open_warehouse(path)


defs = dg.Definitions(assets=[refresh_summary])
