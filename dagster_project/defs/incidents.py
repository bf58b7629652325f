"""Dagster assets of the incident sources: PagerDuty, Opsgenie and Statuspage.

Each source is configured in its section of the pipeline configuration
(``sources.pagerduty``, ``sources.opsgenie``, ``sources.statuspage``; see
docs/sources-incidents.md). A configured section is one or more partitions
of the source's extraction asset: one per listed PagerDuty or Opsgenie
service (``dagster_project/partitions.py`` lists the keys), else one keyed
by its ``source_name``. Each partition writes its own landing file, and the
source's merge asset copies them into the raw tables. A source with no
section has no partition, and its merge asset
creates its raw tables empty, so the refresh job runs for teams without it.
Tokens are read only when the source is configured: from the
resource's ``token`` (which may be ``dg.EnvVar("NAME")``), else from the
environment variable named by ``token_env`` in the configuration.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project import partitions, progress
from dagster_project.clients import statuspage as statuspage_reader
from dagster_project.clients.http import ApiError, RetryPolicy, read_token
from dagster_project.clients.opsgenie import OpsgenieClient
from dagster_project.clients.pagerduty import PagerDutyClient
from dagster_project.config import ConfigError
from dagster_project.defs.landing import EXTRACTION_TAG, LandingResource, landing_key, merge_asset
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.partitions import PartitionedSource
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


def _api_failure(
    label: str, error: ApiError, source: PartitionedSource, key: str, token_env: str
) -> dg.Failure:
    token_hint = (
        f" The token comes from the environment variable {token_env} (the section's "
        "token_env) unless the Dagster resource sets one."
        if error.status == 401
        else ""
    )
    return dg.Failure(
        f"{label} partition {key}: {error}.{token_hint} The cursor was not moved, so the next "
        f"run reads the same window again, and the landing file and warehouse rows are "
        f"unchanged. After the fix, run job {source.job_name} for partition {key} again "
        "(dora refresh runs every partition)."
    )


def _partition_settings(context, run_settings, name: str, parse, overrides=None, split=None):
    """Return the settings of the run's partition of the ``sources.<name>`` section.

    ``overrides`` replace keys of the section; passing them also passes the
    configuration file's folder to ``parse``, for relative file locations.
    ``split`` maps the section's settings to those of each partition key; by
    default the section is one partition, keyed by its ``source_name``.
    """
    section, base = _section(run_settings, name)
    if overrides is None:
        settings = _parse(parse, section)
    else:
        settings = _parse(parse, {**(section or {}), **overrides} if section else section, base)
    by_key = {} if settings is None else (split or _one_partition)(settings)
    key = context.partition_key
    if key not in by_key:
        raise dg.Failure(
            f"partition {key!r} is not a partition of the sources.{name} section of the "
            f"configuration (its partitions: {', '.join(by_key) or 'none'}); add it back, or "
            "let the partition sync sensor (or dora refresh) delete the key"
        )
    return by_key[key]


def _one_partition(settings: Any) -> dict[str, Any]:
    return {settings.source: settings}


def _extraction_spec(source: PartitionedSource, group: str, content: str) -> dict[str, Any]:
    return {
        "key": landing_key(source),
        "partitions_def": source.partitions,
        "group_name": group,
        "description": f"{content} of one configured source instance, in its own landing file.",
        "kinds": {"duckdb", "python"},
        "tags": {EXTRACTION_TAG: source.kind},
    }


@dg.asset(**_extraction_spec(partitions.PAGERDUTY, "raw_pagerduty", "PagerDuty incidents"))
def extract_pagerduty(
    context: dg.AssetExecutionContext,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
    pagerduty_api: PagerDutyResource,
) -> dg.MaterializeResult:
    """Load PagerDuty incidents created since the stored cursor and refresh the open ones."""
    settings = _partition_settings(
        context,
        run_settings,
        "pagerduty",
        pagerduty.parse_settings,
        split=pagerduty.settings_by_partition,
    )
    token = pagerduty_api.token or read_token(settings.token_env)
    client = PagerDutyClient(
        token or "",
        pagerduty_api.base_url or settings.base_url,
        timeout=pagerduty_api.timeout_seconds,
        retry=RetryPolicy(max_retries=pagerduty_api.max_retries),
        logger=context.log,
    )
    return _extract_api_incidents(
        context, landing_files, partitions.PAGERDUTY, "PagerDuty", pagerduty, settings, client
    )


@dg.asset(**_extraction_spec(partitions.OPSGENIE, "raw_opsgenie", "Opsgenie incidents"))
def extract_opsgenie(
    context: dg.AssetExecutionContext,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
    opsgenie_api: OpsgenieResource,
) -> dg.MaterializeResult:
    """Load Opsgenie incidents created since the stored cursor and refresh the open ones."""
    settings = _partition_settings(
        context,
        run_settings,
        "opsgenie",
        opsgenie.parse_settings,
        split=opsgenie.settings_by_partition,
    )
    api_key = opsgenie_api.api_key or read_token(settings.token_env)
    client = OpsgenieClient(
        api_key or "",
        settings.region,
        opsgenie_api.base_url or settings.base_url,
        timeout=opsgenie_api.timeout_seconds,
        retry=RetryPolicy(max_retries=opsgenie_api.max_retries),
        logger=context.log,
    )
    return _extract_api_incidents(
        context, landing_files, partitions.OPSGENIE, "Opsgenie", opsgenie, settings, client
    )


@dg.asset(
    **_extraction_spec(partitions.STATUSPAGE, "raw_statuspage", "Statuspage incident history")
)
def extract_statuspage(
    context: dg.AssetExecutionContext,
    run_settings: RunSettingsResource,
    landing_files: LandingResource,
    statuspage_source: StatuspageResource,
) -> dg.MaterializeResult:
    """Read the configured Statuspage history and upsert it."""
    overrides = {"location": statuspage_source.location} if statuspage_source.location else {}
    settings = _partition_settings(
        context, run_settings, "statuspage", statuspage.parse_settings, overrides
    )
    options: dict[str, Any] = {}
    if statuspage_reader.is_url(settings.location):
        options = {
            "timeout": statuspage_source.timeout_seconds,
            "retry": RetryPolicy(max_retries=statuspage_source.max_retries),
        }
    with landing_files.write(
        partitions.STATUSPAGE.kind, settings.source, context.run.run_id, statuspage.RAW_TABLES
    ) as con:
        ensure_raw_tables(con, statuspage.RAW_TABLES)
        try:
            summary = statuspage.load(con, settings, context.log, **options)
        except (ApiError, FileNotFoundError) as error:
            raise dg.Failure(f"Statuspage: {error}") from None
    _report(context, "Statuspage", summary)
    return dg.MaterializeResult(metadata=_metadata(summary))


def _extract_api_incidents(
    context: dg.AssetExecutionContext,
    landing_files: LandingResource,
    source: PartitionedSource,
    system: str,
    module: Any,
    settings: Any,
    client: Any,
) -> dg.MaterializeResult:
    """Load one incident API source through ``client`` into its landing file and report it.

    ``module`` is the source module (PagerDuty or Opsgenie): its ``RAW_TABLES``,
    ``seed_conditions`` and ``load`` function.
    """
    section = partitions.incident_section(settings.source)
    with landing_files.write(
        source.kind,
        settings.source,
        context.run.run_id,
        module.RAW_TABLES,
        module.seed_conditions(settings, section),
    ) as con:
        ensure_raw_tables(con, module.RAW_TABLES)
        with client:
            try:
                summary = module.load(con, client, settings, datetime.now(UTC), context.log)
            except ApiError as error:
                raise _api_failure(
                    system, error, source, settings.source, settings.token_env
                ) from None
    _report(context, system, summary)
    return dg.MaterializeResult(metadata=_metadata(summary))


def _raw_spec(table: str, group: str, description: str, source: PartitionedSource) -> dg.AssetSpec:
    return dg.AssetSpec(
        ["raw", table],
        group_name=group,
        description=description,
        kinds={"duckdb", "python"},
        deps=[landing_key(source)],
    )


raw_pagerduty = merge_asset(
    partitions.PAGERDUTY,
    pagerduty.RAW_TABLES,
    [
        _raw_spec(
            pagerduty.INCIDENTS_TABLE,
            "raw_pagerduty",
            "PagerDuty incidents with their restore times, by creation window.",
            partitions.PAGERDUTY,
        ),
        _raw_spec(
            pagerduty.LOG_ENTRIES_TABLE,
            "raw_pagerduty",
            "Log entries of the loaded PagerDuty incidents.",
            partitions.PAGERDUTY,
        ),
    ],
    "raw_pagerduty",
)
raw_opsgenie = merge_asset(
    partitions.OPSGENIE,
    opsgenie.RAW_TABLES,
    [
        _raw_spec(
            opsgenie.TABLE,
            "raw_opsgenie",
            "Opsgenie incidents (and alerts when configured) with their restore times.",
            partitions.OPSGENIE,
        )
    ],
    "raw_opsgenie",
)
raw_statuspage = merge_asset(
    partitions.STATUSPAGE,
    statuspage.RAW_TABLES,
    [
        _raw_spec(
            statuspage.TABLE,
            "raw_statuspage",
            "Statuspage incident history read from a file or an incidents.json URL.",
            partitions.STATUSPAGE,
        )
    ],
    "raw_statuspage",
)

INCIDENT_ASSETS = [
    extract_pagerduty,
    extract_opsgenie,
    extract_statuspage,
    raw_pagerduty,
    raw_opsgenie,
    raw_statuspage,
]

defs = dg.Definitions(
    assets=INCIDENT_ASSETS,
    resources={
        "pagerduty_api": PagerDutyResource(),
        "opsgenie_api": OpsgenieResource(),
        "statuspage_source": StatuspageResource(),
    },
)
