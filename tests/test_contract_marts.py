"""Contract statuses, checkpoints and breach events through the real dbt models.

Hand-made fact tables (``fct_deployments``, ``fct_changes``,
``fct_incidents``) go into a temporary DuckDB file, one service per
scenario, and the contract models are built on them with dbt. Each contract
outcome reads one scenario's service, so all scenarios share one build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.contract import validate_contract
from dagster_project.contract.dbt_vars import contract_vars

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO_ROOT / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
AS_OF = "2026-04-10T12:00:00+00:00"
START = "2026-03-02"
CONTRACT_MODELS = "path:models/marts/contract"

FACT_DDL = [
    """create table fct_deployments (
        deployment_key varchar, service varchar, deployed_at timestamptz,
        is_counted boolean, is_cfr_eligible boolean, is_failed boolean)""",
    """create table fct_changes (
        change_id varchar, service varchar, deployed_at timestamptz, is_shipped boolean,
        is_baseline_shipment boolean, is_negative_lead_time boolean,
        pr_lead_time_seconds double)""",
    """create table fct_incidents (
        incident_key varchar, service varchar, alert_at timestamptz,
        resolved_at timestamptz, is_open boolean)""",
]


def at(day: str, clock: str = "00:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}+00:00")


def days(first: str, last: str):
    current, end = date.fromisoformat(first), date.fromisoformat(last)
    while current <= end:
        yield current
        current += timedelta(days=1)


def daily_deployments(service: str, per_day, first="2026-02-01", last="2026-04-10"):
    """Counted, eligible, successful deployments; ``per_day(day)`` gives the count."""
    rows = []
    for day in days(first, last):
        for index in range(per_day(day)):
            deployed = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                hours=1, minutes=5 * index
            )
            rows.append((f"{service}-{day}-{index}", service, deployed, True, True, False))
    return rows


def late_evening_deployments(service: str, skip_on: date):
    """8 deployments from 23:00 UTC each day (7 on ``skip_on``): the next day in Berlin."""
    rows = []
    for day in days("2026-02-01", "2026-04-09"):
        for index in range(7 if day == skip_on else 8):
            deployed = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                hours=23, minutes=5 * index
            )
            rows.append((f"{service}-{day}-{index}", service, deployed, True, True, False))
    return rows


def burst(service: str, day: str, count: int, failed: int):
    """``count`` deployments on one day, the first ``failed`` of them failed."""
    return [
        (
            f"{service}-{index}",
            service,
            at(day, "10:00:00") + timedelta(minutes=index),
            True,
            True,
            index < failed,
        )
        for index in range(count)
    ]


def daily_changes(service: str, seconds, first="2026-02-01", last="2026-04-10"):
    """One shipped change per day deployed at 10:00; ``seconds(day)`` is its lead time."""
    return [
        (
            f"{service}-{day}",
            service,
            at(day.isoformat(), "10:00:00"),
            True,
            False,
            False,
            float(seconds(day)),
        )
        for day in days(first, last)
    ]


def frequency_scenario(day: date) -> int:
    """9 deployments a day, 7 on 2026-03-20, and 2 by as_of on 2026-04-10."""
    if day == date(2026, 3, 20):
        return 7
    if day == date(2026, 4, 10):
        return 2
    return 9


def scenario_facts():
    march_20 = date(2026, 3, 20)
    holiday = date(2026, 3, 17)
    deployments = [
        *daily_deployments("df", frequency_scenario),
        *daily_deployments("df10", lambda day: 11),
        *daily_deployments("df12", lambda day: 12),
        *daily_deployments("df_biz", lambda day: 0 if day.weekday() >= 5 or day == holiday else 9),
        *late_evening_deployments("df_tz", skip_on=march_20),
        *burst("cfr_edge", "2026-03-10", 100, 2),
        *burst("cfr_bad", "2026-03-20", 100, 3),
        *burst("cfr_18", "2026-03-20", 500, 9),
        *burst("cfr_16", "2026-03-20", 500, 8),
        # A baseline (not eligible) and an uncounted deployment change nothing.
        ("cfr_16-baseline", "cfr_16", at("2026-03-20", "09:00:00"), True, False, True),
        ("cfr_16-redeploy", "cfr_16", at("2026-03-20", "09:30:00"), False, True, True),
    ]
    changes = [
        *daily_changes("lt", lambda day: 7200 if day < date(2026, 3, 15) else 10800),
        *daily_changes("lt_225", lambda day: 8100),
        *daily_changes("lt_224", lambda day: 8064),
        # A baseline shipment and a negative duration are no samples.
        ("lt_224-baseline", "lt_224", at("2026-03-20", "11:00:00"), True, True, False, 99999.0),
        ("lt_224-skew", "lt_224", at("2026-03-20", "11:00:00"), True, False, True, -50.0),
    ]
    incidents = [
        ("ttr-1", "ttr", at("2026-03-18", "10:00:00"), at("2026-03-18", "10:06:00"), False),
        ("ttr_45-1", "ttr_45", at("2026-03-05", "10:00:00"), at("2026-03-05", "10:04:30"), False),
        ("ttr_4-1", "ttr_4", at("2026-03-05", "10:00:00"), at("2026-03-05", "10:04:00"), False),
        (
            "ttr_night-1",
            "ttr_night",
            at("2026-03-25", "23:57:00"),
            at("2026-03-26", "00:10:00"),
            False,
        ),
        ("ttr_open-1", "ttr_open", at("2026-04-10", "11:50:00"), None, True),
        (
            "ttr_future-1",
            "ttr_future",
            at("2026-04-10", "11:58:00"),
            at("2026-04-10", "13:00:00"),
            False,
        ),
    ]
    return deployments, changes, incidents


def outcome(outcome_id, metric, service, target, unit, **extra):
    operator = ">=" if metric == "deployment_frequency" else "<="
    return {
        "id": outcome_id,
        "metric": metric,
        "operator": operator,
        "target": target,
        "unit": unit,
        "service": service,
        **extra,
    }


def contract(contract_id, outcomes, start=START, **extra):
    return {
        "id": contract_id,
        "mission_id": f"MISSION-{contract_id}",
        "start_date": start,
        "outcomes": outcomes,
        "schedule": [
            {"name": "Initial check", "offset_weeks": 1},
            {"name": "Follow-up", "offset_weeks": 4},
            {"name": "Final evaluation", "offset_weeks": 8},
        ],
        **extra,
    }


def scenario_contracts():
    df = ("deployment_frequency", 8, "deploys/day")
    main = contract(
        "main",
        [
            outcome("df", df[0], "df", df[1], df[2]),
            outcome("df_biz_all", df[0], "df_biz", df[1], df[2]),
            outcome("df_tz", df[0], "df_tz", df[1], df[2]),
            outcome("lt", "lead_time", "lt", 2.5, "hours"),
            outcome("lt_225", "lead_time", "lt_225", 2.5, "hours"),
            outcome("lt_224", "lead_time", "lt_224", 150, "minutes"),
            outcome("cfr_edge", "change_failure_rate", "cfr_edge", 2, "percent"),
            outcome("cfr_bad", "change_failure_rate", "cfr_bad", 2, "percent"),
            outcome("cfr_18", "change_failure_rate", "cfr_18", 2, "percent"),
            outcome("cfr_16", "change_failure_rate", "cfr_16", 2, "percent"),
            outcome("ttr", "time_to_restore", "ttr", 5, "minutes"),
            outcome("ttr_45", "time_to_restore", "ttr_45", 5, "minutes"),
            outcome("ttr_4", "time_to_restore", "ttr_4", 5, "minutes"),
            outcome("ttr_night", "time_to_restore", "ttr_night", 5, "minutes"),
            outcome("ttr_open", "time_to_restore", "ttr_open", 5, "minutes"),
            outcome("ttr_future", "time_to_restore", "ttr_future", 5, "minutes"),
        ],
    )
    tens = contract(
        "tens",
        [
            outcome("df10", df[0], "df10", 10, df[2]),
            outcome("df12", df[0], "df12", 10, df[2]),
        ],
    )
    biz = contract(
        "biz",
        [outcome("df_biz", df[0], "df_biz", 8, df[2])],
        calendar="business_days",
        holidays=["2026-03-17"],
    )
    biz_plain = contract(
        "biz_plain", [outcome("df_biz", df[0], "df_biz", 8, df[2])], calendar="business_days"
    )
    early = contract(
        "early",
        [
            outcome("df", df[0], "df", 8, df[2]),
            outcome("lt", "lead_time", "lt", 2.5, "hours"),
            outcome("cfr_edge", "change_failure_rate", "cfr_edge", 2, "percent"),
            outcome("cfr_edge_strict", "change_failure_rate", "cfr_edge", 1, "percent"),
            outcome("cfr_bad", "change_failure_rate", "cfr_bad", 2, "percent"),
        ],
        start="2026-01-19",
    )
    berlin = contract(
        "berlin", [outcome("df_tz", df[0], "df_tz", 8, df[2])], timezone="Europe/Berlin"
    )
    # The final checkpoint's last day is the as_of day, still incomplete.
    ending = contract("ending", [outcome("df", df[0], "df", 8, df[2])], start="2026-02-14")
    documents = [main, tens, biz, biz_plain, early, berlin, ending]
    return [validate_contract(document, source=document["id"]) for document in documents]


def run_dbt(
    warehouse: Path, target: Path, contracts, command: str = "build", as_of: str = AS_OF
) -> dict:
    """Build the contract models on ``warehouse``; return dbt's run results."""
    variables = {"as_of": as_of, "timezone": "UTC", **contract_vars(contracts)}
    env = {
        **os.environ,
        "DORA_WAREHOUSE": str(warehouse),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
    }
    result = subprocess.run(
        [
            str(DBT),
            command,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--select",
            CONTRACT_MODELS,
            "--vars",
            json.dumps(variables),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"dbt {command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return json.loads((target / "run_results.json").read_text())


def write_facts(warehouse: Path) -> None:
    deployments, changes, incidents = scenario_facts()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set TimeZone = 'UTC'")
        for statement in FACT_DDL:
            con.execute(statement)
        con.executemany("insert into fct_deployments values (?, ?, ?, ?, ?, ?)", deployments)
        con.executemany("insert into fct_changes values (?, ?, ?, ?, ?, ?, ?)", changes)
        con.executemany("insert into fct_incidents values (?, ?, ?, ?, ?)", incidents)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The scenario warehouse with the contract models built, and dbt's run results."""
    folder = tmp_path_factory.mktemp("contract_marts")
    warehouse = folder / "warehouse.duckdb"
    write_facts(warehouse)
    results = run_dbt(warehouse, folder / "target", scenario_contracts())
    return warehouse, results


@pytest.fixture(scope="module")
def marts(built):
    warehouse, _ = built
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()


def daily(con, contract_id: str, outcome_id: str, day: str) -> dict:
    cursor = con.execute(
        "select * from contract_outcome_daily where contract_id = ? and outcome_id = ? "
        "and metric_date = ?",
        [contract_id, outcome_id, day],
    )
    names = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, f"{contract_id}/{outcome_id} on {day}: {len(rows)} rows"
    return dict(zip(names, rows[0], strict=True))


def status(con, contract_id: str, outcome_id: str, day: str) -> str:
    return daily(con, contract_id, outcome_id, day)["status"]


def events(con, contract_id: str, outcome_id: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select event_date, status_change from contract_breach_events "
        "where contract_id = ? and outcome_id = ? order by event_date",
        [contract_id, outcome_id],
    ).fetchall()
    return [(day.isoformat(), change) for day, change in rows]


def test_daily_rows_cover_start_to_as_of(marts):
    first, last, count = marts.execute(
        "select min(metric_date), max(metric_date), count(*) from contract_outcome_daily "
        "where contract_id = 'main' and outcome_id = 'df'"
    ).fetchone()
    assert first == date(2026, 3, 2)
    assert last == date(2026, 4, 10)
    assert count == 40


def test_frequency_day_below_target_breaks_criterion(marts):
    before = daily(marts, "main", "df", "2026-03-19")
    assert before["criterion_value"] == 9
    assert before["margin"] == pytest.approx(0.125)
    assert before["status"] == "on-track"
    drop = daily(marts, "main", "df", "2026-03-20")
    assert drop["criterion_value"] == 7
    assert drop["headline_value"] == pytest.approx((13 * 9 + 7) / 14)
    assert drop["is_criterion_met"] is False
    assert drop["status"] == "off-track"


def test_frequency_recovers_when_day_leaves_sustain(marts):
    assert status(marts, "main", "df", "2026-04-02") == "off-track"
    assert status(marts, "main", "df", "2026-04-03") == "on-track"
    assert events(marts, "main", "df") == [("2026-03-20", "breach"), ("2026-04-03", "recovery")]


def test_frequency_ignores_incomplete_as_of_day(marts):
    # Only 2 deployments so far on the as_of day: the criterion reads complete days.
    today = daily(marts, "main", "df", "2026-04-10")
    assert today["is_complete_day"] is False
    assert today["criterion_value"] == 9
    assert today["status"] == "on-track"


def test_frequency_margin_boundary_is_at_risk(marts):
    exactly_ten_percent = daily(marts, "tens", "df10", "2026-03-20")
    assert exactly_ten_percent["margin"] == pytest.approx(0.1)
    assert exactly_ten_percent["status"] == "at-risk"
    assert status(marts, "tens", "df12", "2026-03-20") == "on-track"


def test_frequency_on_target_is_at_risk(marts):
    on_target = daily(marts, "main", "df_tz", "2026-03-19")
    assert on_target["criterion_value"] == 8
    assert on_target["margin"] == 0
    assert on_target["is_criterion_met"] is True
    assert on_target["status"] == "at-risk"


def test_business_days_skip_weekends_and_holidays(marts):
    assert status(marts, "main", "df_biz_all", "2026-03-16") == "off-track"
    assert daily(marts, "main", "df_biz_all", "2026-03-16")["criterion_value"] == 0
    for day in ("2026-03-14", "2026-03-17", "2026-03-18", "2026-04-10"):
        assert status(marts, "biz", "df_biz", day) == "on-track", day
    # Without the holiday listed, its zero counts.
    assert status(marts, "biz_plain", "df_biz", "2026-03-16") == "on-track"
    assert status(marts, "biz_plain", "df_biz", "2026-03-18") == "off-track"
    assert daily(marts, "biz_plain", "df_biz", "2026-03-18")["criterion_value"] == 0


def test_business_days_headline_counts_business_days(marts):
    row = daily(marts, "biz", "df_biz", "2026-03-13")
    # 14 days from 2026-02-28 to 2026-03-13 hold 10 business days of 9 deployments.
    assert row["headline_value"] == pytest.approx(9.0)
    all_days = daily(marts, "main", "df_biz_all", "2026-03-13")
    assert all_days["headline_value"] == pytest.approx(90 / 14)


def test_lead_time_median_crossing_target(marts):
    on_track = daily(marts, "main", "lt", "2026-03-28")
    assert on_track["criterion_value"] == pytest.approx(2.0)
    assert on_track["status"] == "on-track"
    on_target = daily(marts, "main", "lt", "2026-03-29")
    assert on_target["criterion_value"] == pytest.approx(2.5)
    assert on_target["margin"] == 0
    assert on_target["status"] == "at-risk"
    crossed = daily(marts, "main", "lt", "2026-03-30")
    assert crossed["criterion_value"] == pytest.approx(3.0)
    assert crossed["status"] == "off-track"
    assert events(marts, "main", "lt") == [("2026-03-30", "breach")]


def test_lead_time_margin_boundary(marts):
    boundary = daily(marts, "main", "lt_225", "2026-03-20")
    assert boundary["criterion_value"] == pytest.approx(2.25)
    assert boundary["margin"] == pytest.approx(0.1)
    assert boundary["status"] == "at-risk"
    inside = daily(marts, "main", "lt_224", "2026-03-20")
    assert inside["unit"] == "minutes"
    assert inside["criterion_value"] == pytest.approx(134.4)
    assert inside["status"] == "on-track"


def test_lead_time_skips_baseline_and_negative(marts):
    row = daily(marts, "main", "lt_224", "2026-03-20")
    assert row["sample_count"] == 30
    assert row["criterion_value"] == pytest.approx(8064 / 60)


def test_failure_rate_boundaries(marts):
    on_target = daily(marts, "main", "cfr_edge", "2026-03-10")
    assert on_target["criterion_value"] == pytest.approx(2.0)
    assert on_target["status"] == "at-risk"
    assert status(marts, "main", "cfr_bad", "2026-03-20") == "off-track"
    ten_percent = daily(marts, "main", "cfr_18", "2026-03-20")
    assert ten_percent["criterion_value"] == pytest.approx(1.8)
    assert ten_percent["status"] == "at-risk"
    assert status(marts, "main", "cfr_16", "2026-03-20") == "on-track"


def test_failure_rate_counts_eligible_counted_only(marts):
    row = daily(marts, "main", "cfr_16", "2026-03-20")
    assert row["sample_count"] == 500
    assert row["criterion_value"] == pytest.approx(1.6)


def test_failure_rate_without_deployments_breaks(marts):
    assert status(marts, "main", "cfr_edge", "2026-03-09") == "not-started"
    assert status(marts, "main", "cfr_edge", "2026-04-08") == "at-risk"
    empty = daily(marts, "main", "cfr_edge", "2026-04-09")
    assert empty["criterion_value"] is None
    assert empty["status"] == "off-track"
    assert events(marts, "main", "cfr_edge") == [("2026-04-09", "breach")]


def test_restore_one_slow_incident_breaks(marts):
    assert status(marts, "main", "ttr", "2026-03-17") == "not-started"
    slow = daily(marts, "main", "ttr", "2026-03-18")
    assert slow["criterion_value"] == pytest.approx(6.0)
    assert slow["headline_value"] == pytest.approx(6.0)
    assert slow["status"] == "off-track"
    assert events(marts, "main", "ttr") == [("2026-03-18", "breach")]


def test_restore_margin_boundaries(marts):
    boundary = daily(marts, "main", "ttr_45", "2026-03-20")
    assert boundary["criterion_value"] == pytest.approx(4.5)
    assert boundary["status"] == "at-risk"
    assert status(marts, "main", "ttr_4", "2026-03-20") == "on-track"
    # Once the incident leaves the 30-day window there is none: every one was fast.
    later = daily(marts, "main", "ttr_45", "2026-04-04")
    assert later["criterion_value"] is None
    assert later["margin"] == 1
    assert later["status"] == "on-track"


def test_restore_counts_open_incident_to_day_end(marts):
    evening = daily(marts, "main", "ttr_night", "2026-03-25")
    assert evening["criterion_value"] == pytest.approx(3.0)
    assert evening["status"] == "on-track"
    next_day = daily(marts, "main", "ttr_night", "2026-03-26")
    assert next_day["criterion_value"] == pytest.approx(13.0)
    assert next_day["status"] == "off-track"
    assert events(marts, "main", "ttr_night") == [("2026-03-26", "breach")]


def test_restore_counts_open_incident_to_as_of(marts):
    still_open = daily(marts, "main", "ttr_open", "2026-04-10")
    assert still_open["criterion_value"] == pytest.approx(10.0)
    assert still_open["status"] == "off-track"
    resolved_later = daily(marts, "main", "ttr_future", "2026-04-10")
    assert resolved_later["criterion_value"] == pytest.approx(2.0)
    assert resolved_later["status"] == "on-track"


def test_baselining_before_baseline_checkpoint(marts):
    assert status(marts, "main", "df", "2026-03-07") == "baselining"
    assert status(marts, "main", "df", "2026-03-08") == "on-track"
    assert daily(marts, "main", "df", "2026-03-08")["checkpoint_name"] == "Initial check"


def test_final_checkpoint_met_and_frozen(marts):
    assert status(marts, "early", "df", "2026-03-14") == "on-track"
    assert status(marts, "early", "df", "2026-03-15") == "met"
    # The criterion breaks after the final checkpoint; the verdict stays.
    after = daily(marts, "early", "df", "2026-03-20")
    assert after["is_criterion_met"] is False
    assert after["status"] == "met"
    assert ("2026-03-20", "breach") in events(marts, "early", "df")


def test_final_checkpoint_missed(marts):
    assert status(marts, "early", "cfr_edge", "2026-03-15") == "met"
    assert status(marts, "early", "cfr_edge_strict", "2026-03-14") == "off-track"
    assert status(marts, "early", "cfr_edge_strict", "2026-03-15") == "missed"
    # No data at the final checkpoint is missed as well.
    assert status(marts, "early", "cfr_bad", "2026-03-15") == "missed"
    assert status(marts, "early", "cfr_bad", "2026-04-10") == "missed"


def test_checkpoint_values_and_baseline(marts):
    rows = marts.execute(
        "select checkpoint_name, is_reached, headline_value, status, baseline_headline_value "
        "from contract_checkpoints where contract_id = 'main' and outcome_id = 'lt' "
        "order by offset_weeks"
    ).fetchall()
    initial, follow_up, final = rows
    assert initial[:2] == ("Initial check", True)
    assert initial[2] == pytest.approx(2.0)
    assert follow_up[:2] == ("Follow-up", True)
    assert follow_up[2] == pytest.approx(2.5)
    assert follow_up[3] == "at-risk"
    assert follow_up[4] == pytest.approx(2.0)
    assert final[:4] == ("Final evaluation", False, None, None)
    assert final[4] == pytest.approx(2.0)


def test_breach_at_baseline_checkpoint(marts):
    # Weekend zeros: the all-days criterion never holds, so the baseline day breaches.
    assert events(marts, "main", "df_biz_all") == [("2026-03-08", "breach")]


def test_threshold_tests_warn_per_metric(built):
    _, results = built
    tests = {
        result["unique_id"].split(".")[2]: result
        for result in results["results"]
        if result["unique_id"].startswith("test.") and "_holds" in result["unique_id"]
    }
    expected_failures = {
        "contract_deployment_frequency_holds": 1,
        "contract_lead_time_holds": 1,
        "contract_change_failure_rate_holds": 4,
        "contract_time_to_restore_holds": 3,
    }
    assert set(tests) == set(expected_failures)
    for name, failures in expected_failures.items():
        assert tests[name]["status"] == "warn", name
        assert tests[name]["failures"] == failures, name


def test_other_tests_pass(built):
    _, results = built
    statuses = {
        result["unique_id"]: result["status"]
        for result in results["results"]
        if "_holds" not in result["unique_id"]
    }
    assert statuses
    assert set(statuses.values()) <= {"pass", "success"}, statuses


def test_local_days_follow_contract_zone(marts):
    # 23:00 UTC is already the next day in Berlin, before and after the DST switch.
    assert status(marts, "main", "df_tz", "2026-03-20") == "off-track"
    assert status(marts, "berlin", "df_tz", "2026-03-20") == "at-risk"
    assert status(marts, "berlin", "df_tz", "2026-03-21") == "off-track"
    assert events(marts, "berlin", "df_tz") == [
        ("2026-03-21", "breach"),
        ("2026-04-04", "recovery"),
    ]


def test_dst_day_is_23_hours(marts):
    rows = marts.execute(
        "select cast(metric_date as varchar), day_start_at, day_end_at from int_contract__days "
        "where contract_id = 'berlin' and metric_date in ('2026-03-29', '2026-03-30') "
        "order by metric_date"
    ).fetchall()
    (_, start_29, end_29), (_, start_30, _) = rows
    assert start_29 == at("2026-03-28", "23:00:00")
    assert end_29 == start_30 == at("2026-03-29", "22:00:00")
    assert daily(marts, "berlin", "df_tz", "2026-03-29")["criterion_value"] == 7


def test_final_verdict_waits_for_complete_day(marts):
    final_day = daily(marts, "ending", "df", "2026-04-10")
    assert final_day["is_final_checkpoint"] is True
    assert final_day["is_complete_day"] is False
    assert final_day["status"] == "on-track"
    (reached,) = marts.execute(
        "select is_reached from contract_checkpoints where contract_id = 'ending' "
        "and outcome_id = 'df' and checkpoint_name = 'Final evaluation'"
    ).fetchone()
    assert reached is False
