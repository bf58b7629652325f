"""Dagster assets of the incident sources: PagerDuty, Opsgenie and Statuspage.

Each source is configured in its section of the pipeline configuration
(``sources.pagerduty``, ``sources.opsgenie``, ``sources.statuspage``; see
docs/sources-incidents.md). A source with no section materializes with zero
rows and creates its empty raw tables, so the refresh job runs for teams
without it. Tokens are read only when the source is configured: from the
resource's ``token`` (which may be ``dg.EnvVar("NAME")``), else from the
environment variable named by ``token_env`` in the configuration.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project import progress
from dagster_project.clients import statuspage as statuspage_reader
from dagster_project.clients.http import ApiError, RetryPolicy, read_token
from dagster_project.clients.opsgenie import OpsgenieClient
from dagster_project.clients.pagerduty import PagerDutyClient
from dagster_project.config import ConfigError
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import incidents_opsgenie as opsgenie
from dagster_project.sources import incidents_pagerduty as pagerduty
from dagster_project.sources import incidents_statuspage as statuspage
from dagster_project.sources.incidents_common import LoadSummary
from dagster_project.warehouse import ensure_raw_tables


class PagerDutyResource(dg.ConfigurableResource):
    """Overrides of ``sources.pagerduty``: ``token`` may be ``dg.EnvVar("NAME")``.

    Empty ``token`` means the variable named by ``token_env`` (default
    PAGERDUTY_API_TOKEN); empty ``base_url`` means the configured one.
    """

    token: str = ""
    base_url: str = ""
    max_retries: int = 5
    timeout_seconds: float = 30.0


class OpsgenieResource(dg.ConfigurableResource):
    """Overrides of ``sources.opsgenie``: ``api_key`` may be ``dg.EnvVar("NAME")``.

    Empty ``api_key`` means the variable named by ``token_env`` (default
    OPSGENIE_API_KEY); empty ``base_url`` means the host of the configured region.
    """

    api_key: str = ""
    base_url: str = ""
    max_retries: int = 5
    timeout_seconds: float = 30.0


class StatuspageResource(dg.ConfigurableResource):
    """Overrides of ``sources.statuspage``: empty ``location`` means the configured one."""

    location: str = ""
    max_retries: int = 5
    timeout_seconds: float = 30.0


def _section(run_settings: RunSettingsResource, name: str) -> tuple[Any, Path | None]:
    config = run_settings.load()
    base = config.path.parent if config.path is not None else None
    return config.sources.get(name), base


def _parse(parser, *args):
    try:
        return parser(*args)
    except ConfigError as error:
        raise dg.Failure(str(error)) from None


def _metadata(summary: LoadSummary) -> dict[str, Any]:
    data = summary.as_metadata()
    return {
        name: dg.MetadataValue.int(value)
        if isinstance(value, int)
        else dg.MetadataValue.text(str(value))
        for name, value in data.items()
    }


def _report(context: dg.AssetExecutionContext, label: str, summary: LoadSummary) -> None:
    line = (
        f"{label}: {summary.incidents} incidents loaded ({summary.production_incidents} production, "
        f"{summary.open_incidents} open), {summary.quarantined} quarantined"
    )
    context.log.info(line)
    progress.report(line)
    if summary.quarantined:
        context.log.warning(
            f"{label}: {summary.quarantined} items quarantined; see the quarantine table"
        )


def _api_failure(label: str, error: ApiError) -> dg.Failure:
    return dg.Failure(
        f"{label}: {error}; the cursor was not moved, so the next run reads the same window again"
    )


PAGERDUTY_SPECS = [
    dg.AssetSpec(
        ["raw", pagerduty.INCIDENTS_TABLE],
        group_name="raw_pagerduty",
        description="PagerDuty incidents with their restore times, by creation window.",
        kinds={"duckdb", "python"},
    ),
    dg.AssetSpec(
        ["raw", pagerduty.LOG_ENTRIES_TABLE],
        group_name="raw_pagerduty",
        description="Log entries of the loaded PagerDuty incidents.",
        kinds={"duckdb", "python"},
    ),
]


@dg.multi_asset(specs=PAGERDUTY_SPECS, name="raw_pagerduty")
def raw_pagerduty(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    pagerduty_api: PagerDutyResource,
):
    """Load PagerDuty incidents created since the stored cursor and refresh the open ones."""
    section, _ = _section(run_settings, "pagerduty")
    settings = _parse(pagerduty.parse_settings, section)
    with warehouse.connect() as con:
        ensure_raw_tables(con, pagerduty.RAW_TABLES)
        if settings is None:
            context.log.info("No sources.pagerduty section configured; nothing to extract.")
            summary = LoadSummary(pagerduty.SOURCE)
        else:
            token = pagerduty_api.token or read_token(settings.token_env)
            client = PagerDutyClient(
                token or "",
                pagerduty_api.base_url or settings.base_url,
                timeout=pagerduty_api.timeout_seconds,
                retry=RetryPolicy(max_retries=pagerduty_api.max_retries),
                logger=context.log,
            )
            with client:
                try:
                    summary = pagerduty.load(con, client, settings, datetime.now(UTC), context.log)
                except ApiError as error:
                    raise _api_failure("PagerDuty", error) from None
            _report(context, "PagerDuty", summary)
    log_entries = summary.extra.get("log_entries_loaded", 0)
    yield dg.MaterializeResult(asset_key=PAGERDUTY_SPECS[0].key, metadata=_metadata(summary))
    yield dg.MaterializeResult(
        asset_key=PAGERDUTY_SPECS[1].key,
        metadata={"log_entries_loaded": dg.MetadataValue.int(log_entries)},
    )


@dg.asset(
    key=["raw", opsgenie.TABLE],
    group_name="raw_opsgenie",
    description="Opsgenie incidents (and alerts when configured) with their restore times.",
    kinds={"duckdb", "python"},
)
def raw_opsgenie__incidents(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    opsgenie_api: OpsgenieResource,
) -> dg.MaterializeResult:
    """Load Opsgenie incidents created since the stored cursor and refresh the open ones."""
    section, _ = _section(run_settings, "opsgenie")
    settings = _parse(opsgenie.parse_settings, section)
    with warehouse.connect() as con:
        ensure_raw_tables(con, opsgenie.RAW_TABLES)
        if settings is None:
            context.log.info("No sources.opsgenie section configured; nothing to extract.")
            summary = LoadSummary(opsgenie.SOURCE)
        else:
            api_key = opsgenie_api.api_key or read_token(settings.token_env)
            client = OpsgenieClient(
                api_key or "",
                settings.region,
                opsgenie_api.base_url or settings.base_url,
                timeout=opsgenie_api.timeout_seconds,
                retry=RetryPolicy(max_retries=opsgenie_api.max_retries),
                logger=context.log,
            )
            with client:
                try:
                    summary = opsgenie.load(con, client, settings, datetime.now(UTC), context.log)
                except ApiError as error:
                    raise _api_failure("Opsgenie", error) from None
            _report(context, "Opsgenie", summary)
    return dg.MaterializeResult(metadata=_metadata(summary))


@dg.asset(
    key=["raw", statuspage.TABLE],
    group_name="raw_statuspage",
    description="Statuspage incident history read from a file or an incidents.json URL.",
    kinds={"duckdb", "python"},
)
def raw_statuspage__incidents(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
    statuspage_source: StatuspageResource,
) -> dg.MaterializeResult:
    """Read the configured Statuspage history and upsert it."""
    section, base = _section(run_settings, "statuspage")
    if statuspage_source.location:
        section = {**(section or {}), "location": statuspage_source.location}
    settings = _parse(statuspage.parse_settings, section, base)
    with warehouse.connect() as con:
        ensure_raw_tables(con, statuspage.RAW_TABLES)
        if settings is None:
            context.log.info("No sources.statuspage section configured; nothing to read.")
            summary = LoadSummary(statuspage.SOURCE)
        else:
            options: dict[str, Any] = {}
            if statuspage_reader.is_url(settings.location):
                options = {
                    "timeout": statuspage_source.timeout_seconds,
                    "retry": RetryPolicy(max_retries=statuspage_source.max_retries),
                }
            try:
                summary = statuspage.load(con, settings, context.log, **options)
            except (ApiError, FileNotFoundError) as error:
                raise dg.Failure(f"Statuspage: {error}") from None
            _report(context, "Statuspage", summary)
    return dg.MaterializeResult(metadata=_metadata(summary))


defs = dg.Definitions(
    assets=[raw_pagerduty, raw_opsgenie__incidents, raw_statuspage__incidents],
    resources={
        "pagerduty_api": PagerDutyResource(),
        "opsgenie_api": OpsgenieResource(),
        "statuspage_source": StatuspageResource(),
    },
)
