"""Contract assets, breach sensor and refresh schedules.

- ``contract_report``: writes each contract back as Markdown under
  ``data/reports/`` with baselines, statuses and checkpoint results.
- ``contract_breach_sensor``: after each refresh that rebuilt
  ``contract_breach_events``, records new breaches and recoveries once in
  ``contract_breaches`` and delivers their notifications. Notifications that
  failed are retried on the next tick. Its cursor stores the storage id of
  the last refresh it processed and how many notifications are pending.
- Schedules: an hourly ``refresh_incremental`` and a daily ``refresh_all``,
  in the time zone of the first contract, running by default.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import requests

from dagster_project import locking, settings
from dagster_project.contract import Contract, load_contracts
from dagster_project.contract.notifications import deliver_pending, pending_count, record_breaches
from dagster_project.contract.report import read_report_inputs, render_report
from dagster_project.defs.resources import WarehouseResource

BREACH_EVENTS_KEY = dg.AssetKey("contract_breach_events")
DAILY_KEY = dg.AssetKey("contract_outcome_daily")
CHECKPOINTS_KEY = dg.AssetKey("contract_checkpoints")
REPORTS_DIR = settings.DATA_DIR / "reports"

REFRESH_ALL_JOB = "refresh_all"
REFRESH_INCREMENTAL_JOB = "refresh_incremental"
# The hourly run skips the hour of the daily full refresh.
DAILY_REFRESH_CRON = "15 2 * * *"
HOURLY_REFRESH_CRON = "15 0,1,3-23 * * *"


class ContractReportConfig(dg.Config):
    """Paths of the contract file or folder and of the report folder (empty: defaults)."""

    contracts_path: str = ""
    output_dir: str = ""


@dg.asset(
    deps=[DAILY_KEY, CHECKPOINTS_KEY],
    group_name="contract",
    kinds={"python", "markdown"},
    description=(
        "One Markdown file per contract under data/reports/: the contract with each "
        "outcome's baseline and status filled in, the acceptance criteria ticked while "
        "they hold, and the values measured at each checkpoint."
    ),
)
def contract_report(
    context: dg.AssetExecutionContext, config: ContractReportConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    contracts = load_contracts(config.contracts_path or None)
    output_dir = Path(config.output_dir) if config.output_dir else REPORTS_DIR
    output_dir.mkdir(parents=True, exist_ok=True)
    written, statuses = [], {}
    with warehouse.connect() as con:
        for contract in contracts:
            latest, checkpoints = read_report_inputs(con, contract.id)
            measured_on = max((row["metric_date"] for row in latest.values()), default=None)
            text = render_report(contract, latest, checkpoints, measured_on, datetime.now(UTC))
            path = output_dir / f"contract_{contract.id}.md"
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
            for outcome_id, row in latest.items():
                statuses[f"{contract.id}.{outcome_id}"] = row["status"]
    context.log.info(f"Wrote {len(written)} contract report(s) to {output_dir}")
    return dg.MaterializeResult(
        metadata={
            "paths": dg.MetadataValue.json(written),
            "statuses": dg.MetadataValue.json(statuses),
        }
    )


@dataclass(frozen=True)
class BreachTickResult:
    """Counts of one breach-sensor tick, and the cursor to store."""

    cursor: str
    recorded: int
    delivered: int
    failed: int
    pending: int
    skipped_reason: str | None = None


def process_breach_tick(
    warehouse_path: str,
    contracts: list[Contract],
    cursor: str | None,
    latest_storage_id: int | None,
    log: logging.Logger | dg.DagsterLogManager,
    post: Callable[..., requests.Response] = requests.post,
) -> BreachTickResult:
    """Record breaches of a new refresh and deliver pending notifications.

    Opens the warehouse only when a refresh is new or notifications are
    pending. The tick writes the warehouse, so it takes the refresh lock
    (``dagster_project.locking``) first. A warehouse locked by a running
    refresh leaves the cursor as it was, so the next tick tries again.
    """
    state = json.loads(cursor) if cursor else {}
    is_new_refresh = latest_storage_id is not None and latest_storage_id != state.get("storage_id")
    if not is_new_refresh and not state.get("pending"):
        return BreachTickResult(cursor or "{}", 0, 0, 0, 0, "no new refresh and nothing pending")
    try:
        with locking.warehouse_lock(warehouse_path), duckdb.connect(warehouse_path) as con:
            con.execute("set TimeZone = 'UTC'")
            recorded = record_breaches(con, contracts) if is_new_refresh else []
            for event in recorded:
                log.info(
                    f"Recorded {event['status_change']} of {event['contract_id']}/"
                    f"{event['outcome_id']} on {event['event_date']}"
                )
            report = deliver_pending(con, post=post, log=log)
    except (duckdb.IOException, locking.WarehouseLockedError) as error:
        return BreachTickResult(cursor or "{}", 0, 0, 0, state.get("pending", 0), str(error))
    storage_id = latest_storage_id if is_new_refresh else state.get("storage_id")
    new_cursor = json.dumps({"storage_id": storage_id, "pending": report.pending})
    return BreachTickResult(
        new_cursor, len(recorded), report.delivered, report.failed, report.pending
    )


@dg.sensor(
    name="contract_breach_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "After each refresh, records every new contract breach and recovery once in "
        "contract_breaches and notifies it (log line, plus webhooks the contract "
        "configures); failed notifications are retried on the next tick."
    ),
)
def contract_breach_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    records = context.instance.fetch_materializations(BREACH_EVENTS_KEY, limit=1).records
    storage_id = records[0].storage_id if records else None
    result = process_breach_tick(
        warehouse.resolved_path(), load_contracts(), context.cursor, storage_id, context.log
    )
    context.update_cursor(result.cursor)
    if result.skipped_reason:
        return dg.SkipReason(result.skipped_reason)
    return dg.SkipReason(
        f"recorded {result.recorded} change(s), delivered {result.delivered} notification(s), "
        f"{result.failed} failed, {result.pending} pending"
    )


def schedule_timezone(contracts: list[Contract] | None = None) -> str:
    """Return the time zone of the first contract (in file-name order)."""
    contracts = contracts if contracts is not None else load_contracts()
    return contracts[0].timezone


def build_schedules(timezone: str) -> list[dg.ScheduleDefinition]:
    """Return the hourly incremental and the daily full refresh schedules."""
    return [
        dg.ScheduleDefinition(
            name="refresh_incremental_hourly",
            job_name=REFRESH_INCREMENTAL_JOB,
            cron_schedule=HOURLY_REFRESH_CRON,
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Hourly incremental refresh: new source records since the stored cursors.",
        ),
        dg.ScheduleDefinition(
            name="refresh_all_daily",
            job_name=REFRESH_ALL_JOB,
            cron_schedule=DAILY_REFRESH_CRON,
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Daily full refresh of every source and model.",
        ),
    ]


def pending_notifications(warehouse_path: str) -> int:
    """Return how many notifications wait for delivery in a warehouse file."""
    with duckdb.connect(warehouse_path) as con:
        return pending_count(con)


defs = dg.Definitions(
    assets=[contract_report],
    sensors=[contract_breach_sensor],
    schedules=build_schedules(schedule_timezone()),
)
