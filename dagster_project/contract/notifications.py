"""Record contract breaches and recoveries once, and deliver their notifications.

``contract_breach_events`` (a dbt mart) lists every status change the daily
status implies. ``record_breaches`` copies the changes not yet recorded into
``contract_breaches`` and queues one notification per channel in
``contract_notification_outbox``, in one transaction. ``deliver_pending``
sends what is queued and sets ``delivered_at`` after each success, so a
failed delivery stays queued for the next call and a delivered one is never
sent again.

NOTE: a process that dies between a webhook's 2xx response and the
``delivered_at`` update sends that notification again on the next call: the
outbox gives at-least-once delivery across crashes, exactly once otherwise.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import requests

from dagster_project.contract.model import Contract

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10

BREACHES_DDL = """
create table if not exists contract_breaches (
    contract_id varchar not null,
    outcome_id varchar not null,
    metric varchar,
    event_date date not null,
    status_change varchar not null,
    measured_at timestamptz,
    headline_value double,
    criterion_value double,
    operator varchar,
    target_value double,
    unit varchar,
    status varchar,
    checkpoint_name varchar,
    recorded_at timestamptz not null,
    primary key (contract_id, outcome_id, event_date, status_change)
)
"""

OUTBOX_DDL = """
create table if not exists contract_notification_outbox (
    contract_id varchar not null,
    outcome_id varchar not null,
    event_date date not null,
    status_change varchar not null,
    channel varchar not null,
    message varchar not null,
    created_at timestamptz not null,
    attempts integer not null default 0,
    last_attempt_at timestamptz,
    last_error varchar,
    delivered_at timestamptz,
    primary key (contract_id, outcome_id, event_date, status_change, channel)
)
"""

EVENT_COLUMNS = (
    "contract_id",
    "outcome_id",
    "metric",
    "event_date",
    "status_change",
    "measured_at",
    "headline_value",
    "criterion_value",
    "operator",
    "target_value",
    "unit",
    "status",
    "checkpoint_name",
)


@dataclass(frozen=True)
class DeliveryReport:
    """Counts of one delivery pass."""

    delivered: int
    failed: int
    pending: int


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``contract_breaches`` and ``contract_notification_outbox`` if missing."""
    con.execute(BREACHES_DDL)
    con.execute(OUTBOX_DDL)


def _channel_name(channel) -> str:
    return "log" if channel.type == "log" else f"webhook:{channel.url_env}:{channel.format}"


def _format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no sample"
    return f"{value:.2f} {unit}"


def format_message(event: dict) -> str:
    """Return the one-line text of a breach or recovery."""
    checkpoint = f" at checkpoint {event['checkpoint_name']}" if event["checkpoint_name"] else ""
    verb = "breached" if event["status_change"] == "breach" else "recovered"
    value = _format_value(event["criterion_value"], event["unit"])
    target = f"{event['operator']} {event['target_value']:g} {event['unit']}"
    return (
        f"Contract {event['contract_id']}: outcome {event['outcome_id']} {verb} on "
        f"{event['event_date']}{checkpoint}: criterion value {value}, target {target}, "
        f"status {event['status']}"
    )


def record_breaches(
    con: duckdb.DuckDBPyConnection, contracts: Iterable[Contract], now: datetime | None = None
) -> list[dict]:
    """Copy new status changes into ``contract_breaches`` and queue their notifications.

    Returns the newly recorded events. Events of contracts not in
    ``contracts`` are left for later, so a contract that is removed from the
    folder is not notified.
    """
    ensure_tables(con)
    now = now or datetime.now(UTC)
    by_id = {contract.id: contract for contract in contracts}
    columns = ", ".join(f"events.{column}" for column in EVENT_COLUMNS)
    if not _table_exists(con, "contract_breach_events"):
        logger.warning("contract_breach_events does not exist yet: run the refresh first")
        return []
    rows = con.execute(
        f"""
        select {columns}
        from contract_breach_events as events
        anti join contract_breaches as recorded
            on events.contract_id = recorded.contract_id
            and events.outcome_id = recorded.outcome_id
            and events.event_date = recorded.event_date
            and events.status_change = recorded.status_change
        order by events.event_date, events.contract_id, events.outcome_id
        """
    ).fetchall()
    events = [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in rows]
    events = [event for event in events if event["contract_id"] in by_id]
    if not events:
        return []
    con.execute("begin transaction")
    try:
        for event in events:
            _insert_event(con, event, by_id[event["contract_id"]], now)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return events


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    query = "select count(*) from information_schema.tables where table_name = ?"
    return con.execute(query, [table]).fetchone()[0] > 0


def _insert_event(con, event: dict, contract: Contract, now: datetime) -> None:
    placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
    con.execute(
        f"insert into contract_breaches ({', '.join(EVENT_COLUMNS)}, recorded_at) "
        f"values ({placeholders}, ?)",
        [*(event[column] for column in EVENT_COLUMNS), now],
    )
    message = format_message(event)
    for channel in contract.notifications:
        con.execute(
            "insert into contract_notification_outbox "
            "(contract_id, outcome_id, event_date, status_change, channel, message, created_at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [
                event["contract_id"],
                event["outcome_id"],
                event["event_date"],
                event["status_change"],
                _channel_name(channel),
                message,
                now,
            ],
        )


def webhook_payload(row: dict, fmt: str) -> dict:
    """Return the JSON body of a webhook: Slack's ``{"text": ...}`` or the event fields."""
    if fmt == "slack":
        return {"text": row["message"]}
    return {
        "contract_id": row["contract_id"],
        "outcome_id": row["outcome_id"],
        "event_date": row["event_date"].isoformat(),
        "status_change": row["status_change"],
        "message": row["message"],
    }


def _send(row: dict, post: Callable[..., requests.Response], log: logging.Logger) -> None:
    """Deliver one outbox row; raise RuntimeError with a message free of the URL on failure."""
    channel = row["channel"]
    if channel == "log":
        log.warning(row["message"])
        return
    _, url_env, fmt = channel.split(":", 2)
    url = os.environ.get(url_env)
    if not url:
        raise RuntimeError(f"environment variable {url_env} is not set: set it to the webhook URL")
    try:
        response = post(url, json=webhook_payload(row, fmt), timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        # The exception text may contain the URL, which can hold a secret token.
        raise RuntimeError(f"webhook {url_env} failed: {type(error).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"webhook {url_env} returned HTTP {response.status_code}")


def deliver_pending(
    con: duckdb.DuckDBPyConnection,
    post: Callable[..., requests.Response] = requests.post,
    log: logging.Logger = logger,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeliveryReport:
    """Send every undelivered notification, oldest first, and mark each success."""
    ensure_tables(con)
    columns = ("contract_id", "outcome_id", "event_date", "status_change", "channel", "message")
    rows = con.execute(
        f"select {', '.join(columns)} from contract_notification_outbox "
        "where delivered_at is null order by created_at, event_date, contract_id, outcome_id, channel"
    ).fetchall()
    delivered = failed = 0
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        key = [row[column] for column in columns[:5]]
        try:
            _send(row, post, log)
        except RuntimeError as error:
            failed += 1
            log.error(
                "notification of %s/%s on %s not delivered, retried next time: %s",
                row["contract_id"],
                row["outcome_id"],
                row["event_date"],
                error,
            )
            con.execute(
                "update contract_notification_outbox set attempts = attempts + 1, "
                "last_attempt_at = ?, last_error = ? where contract_id = ? and outcome_id = ? "
                "and event_date = ? and status_change = ? and channel = ?",
                [now(), str(error), *key],
            )
            continue
        delivered += 1
        con.execute(
            "update contract_notification_outbox set attempts = attempts + 1, "
            "last_attempt_at = ?, last_error = null, delivered_at = ? where contract_id = ? "
            "and outcome_id = ? and event_date = ? and status_change = ? and channel = ?",
            [now(), now(), *key],
        )
    pending = con.execute(
        "select count(*) from contract_notification_outbox where delivered_at is null"
    ).fetchone()[0]
    return DeliveryReport(delivered=delivered, failed=failed, pending=pending)


def pending_count(con: duckdb.DuckDBPyConnection) -> int:
    """Return the number of notifications not yet delivered."""
    ensure_tables(con)
    return con.execute(
        "select count(*) from contract_notification_outbox where delivered_at is null"
    ).fetchone()[0]


def to_json(events: list[dict]) -> str:
    """Return events as JSON text (dates and times in ISO 8601)."""
    return json.dumps(events, default=lambda value: value.isoformat())
