{#- Per outcome and local day: the headline value and the value the criterion
    reads that day, in base units (deployments, seconds, a 0-1 fraction).
    Deployment frequency reads complete days only, so the row of the as_of
    date measures the days up to yesterday and a morning with few
    deployments so far is not a breach. -#}

with

outcomes as (

    select * from {{ ref('contract_outcomes') }}

),

days as (

    select * from {{ ref('int_contract__days') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

outcome_deployments as (

    select
        outcomes.contract_id,
        outcomes.outcome_id,
        {{ contract_local_date('deployments.deployed_at', 'outcomes.timezone') }} as local_date,
        deployments.is_cfr_eligible,
        deployments.is_cfr_eligible and deployments.is_failed as is_failed_eligible
    from outcomes
    inner join deployments
        on
            deployments.is_counted
            and deployments.deployed_at <= {{ as_of_timestamp() }}
            and (
                outcomes.service_filter is null
                or outcomes.service_filter = deployments.service
            )

),

-- Baseline shipments and negative durations (clock skew) are no samples.
outcome_changes as (

    select
        outcomes.contract_id,
        outcomes.outcome_id,
        {{ contract_local_date('changes.deployed_at', 'outcomes.timezone') }} as local_date,
        changes.pr_lead_time_seconds
    from outcomes
    inner join changes
        on
            outcomes.metric = 'lead_time'
            and changes.is_shipped
            and not changes.is_baseline_shipment
            and not changes.is_negative_lead_time
            and changes.pr_lead_time_seconds is not null
            and changes.deployed_at <= {{ as_of_timestamp() }}
            and (outcomes.service_filter is null or outcomes.service_filter = changes.service)

),

outcome_incidents as (

    select
        outcomes.contract_id,
        outcomes.outcome_id,
        {{ contract_local_date('incidents.alert_at', 'outcomes.timezone') }} as local_date,
        incidents.alert_at,
        incidents.resolved_at
    from outcomes
    inner join incidents
        on
            outcomes.metric = 'time_to_restore'
            and incidents.alert_at <= {{ as_of_timestamp() }}
            and (outcomes.service_filter is null or outcomes.service_filter = incidents.service)

),

deployment_days as (

    select
        contract_id,
        outcome_id,
        local_date,
        count(*) as deployment_count,
        sum(case when is_cfr_eligible then 1 else 0 end) as eligible_count,
        sum(case when is_failed_eligible then 1 else 0 end) as failed_count
    from outcome_deployments
    group by contract_id, outcome_id, local_date

),

daily_counts as (

    select
        days.*,
        coalesce(deployment_days.deployment_count, 0) as deployment_count,
        coalesce(deployment_days.eligible_count, 0) as eligible_count,
        coalesce(deployment_days.failed_count, 0) as failed_count
    from days
    left join deployment_days
        on
            days.contract_id = deployment_days.contract_id
            and days.outcome_id = deployment_days.outcome_id
            and days.metric_date = deployment_days.local_date

),

-- The first local day with data: the first counted deployment, lead-time
-- sample, eligible deployment, or (time to restore) deployment or incident.
first_data as (

    select
        contract_id,
        outcome_id,
        min(local_date) as first_date
    from (
        select
            outcome_deployments.contract_id,
            outcome_deployments.outcome_id,
            outcome_deployments.local_date
        from outcome_deployments
        inner join outcomes
            on
                outcome_deployments.contract_id = outcomes.contract_id
                and outcome_deployments.outcome_id = outcomes.outcome_id
        where
            outcomes.metric in ('deployment_frequency', 'time_to_restore')
            or (outcomes.metric = 'change_failure_rate' and outcome_deployments.is_cfr_eligible)
        union all
        select
            contract_id,
            outcome_id,
            local_date
        from outcome_changes
        union all
        select
            contract_id,
            outcome_id,
            local_date
        from outcome_incidents
    ) as data_days
    group by contract_id, outcome_id

),

frequency_days as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        outcomes.window_days,
        outcomes.sustain_days,
        case
            when days.is_complete_day then days.metric_date
            else {{ contract_add_days('days.metric_date', -1) }}
        end as last_complete_date
    from days
    inner join outcomes
        on
            days.contract_id = outcomes.contract_id
            and days.outcome_id = outcomes.outcome_id
            and outcomes.metric = 'deployment_frequency'

),

{%- set in_window -%}
    window_days.metric_date > {{ contract_add_days(
        'frequency_days.last_complete_date', '0 - frequency_days.window_days'
    ) }}
{%- endset -%}
{%- set in_sustain -%}
    window_days.metric_date > {{ contract_add_days(
        'frequency_days.last_complete_date', '0 - frequency_days.sustain_days'
    ) }}
{%- endset %}

-- The headline is the rate over the window's calendar days; the criterion
-- reads the lowest daily count over the sustain period's calendar days.
frequency as (

    select
        frequency_days.contract_id,
        frequency_days.outcome_id,
        frequency_days.metric_date,
        sum(case when {{ in_window }} then window_days.deployment_count end) * 1.0
        / nullif(sum(case when {{ in_window }} then 1 else 0 end), 0) as headline_base_value,
        min(case when {{ in_sustain }} then window_days.deployment_count end)
            as criterion_base_value,
        coalesce(sum(case when {{ in_window }} then window_days.deployment_count end), 0)
            as sample_count
    from frequency_days
    inner join daily_counts as window_days
        on
            frequency_days.contract_id = window_days.contract_id
            and frequency_days.outcome_id = window_days.outcome_id
            and window_days.is_calendar_day
            and frequency_days.last_complete_date >= window_days.metric_date
            and {{ contract_add_days(
                'frequency_days.last_complete_date',
                '0 - greatest(frequency_days.window_days, frequency_days.sustain_days)'
            ) }} < window_days.metric_date
    group by frequency_days.contract_id, frequency_days.outcome_id, frequency_days.metric_date

),

failure_rate as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        sum(window_days.failed_count) * 1.0
        / nullif(sum(window_days.eligible_count), 0) as headline_base_value,
        sum(window_days.failed_count) * 1.0
        / nullif(sum(window_days.eligible_count), 0) as criterion_base_value,
        sum(window_days.eligible_count) as sample_count
    from days
    inner join outcomes
        on
            days.contract_id = outcomes.contract_id
            and days.outcome_id = outcomes.outcome_id
            and outcomes.metric = 'change_failure_rate'
    inner join daily_counts as window_days
        on
            days.contract_id = window_days.contract_id
            and days.outcome_id = window_days.outcome_id
            and days.metric_date >= window_days.metric_date
            and {{ contract_add_days('days.metric_date', '0 - outcomes.window_days') }}
            < window_days.metric_date
    group by days.contract_id, days.outcome_id, days.metric_date

),

lead_time as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        {{ percentile('outcome_changes.pr_lead_time_seconds', 0.5) }} as headline_base_value,
        {{ percentile('outcome_changes.pr_lead_time_seconds', 0.5) }} as criterion_base_value,
        count(outcome_changes.pr_lead_time_seconds) as sample_count
    from days
    inner join outcomes
        on
            days.contract_id = outcomes.contract_id
            and days.outcome_id = outcomes.outcome_id
            and outcomes.metric = 'lead_time'
    left join outcome_changes
        on
            days.contract_id = outcome_changes.contract_id
            and days.outcome_id = outcome_changes.outcome_id
            and days.metric_date >= outcome_changes.local_date
            and {{ contract_add_days('days.metric_date', '0 - outcomes.window_days') }}
            < outcome_changes.local_date
    group by days.contract_id, days.outcome_id, days.metric_date

),

-- An incident still open at the end of the day counts up to that moment.
incident_restores as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        {{ seconds_between(
            'outcome_incidents.alert_at',
            'case when outcome_incidents.resolved_at is not null'
            ~ ' and outcome_incidents.resolved_at < days.measured_at'
            ~ ' then outcome_incidents.resolved_at else days.measured_at end'
        ) }} as restore_seconds
    from days
    inner join outcomes
        on
            days.contract_id = outcomes.contract_id
            and days.outcome_id = outcomes.outcome_id
    inner join outcome_incidents
        on
            days.contract_id = outcome_incidents.contract_id
            and days.outcome_id = outcome_incidents.outcome_id
            and days.metric_date >= outcome_incidents.local_date
            and {{ contract_add_days('days.metric_date', '0 - outcomes.window_days') }}
            < outcome_incidents.local_date
            and days.measured_at > outcome_incidents.alert_at

),

time_to_restore as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        avg(cast(incident_restores.restore_seconds as {{ contract_double() }}))
            as headline_base_value,
        max(incident_restores.restore_seconds) as criterion_base_value,
        count(incident_restores.restore_seconds) as sample_count
    from days
    inner join outcomes
        on
            days.contract_id = outcomes.contract_id
            and days.outcome_id = outcomes.outcome_id
            and outcomes.metric = 'time_to_restore'
    left join incident_restores
        on
            days.contract_id = incident_restores.contract_id
            and days.outcome_id = incident_restores.outcome_id
            and days.metric_date = incident_restores.metric_date
    group by days.contract_id, days.outcome_id, days.metric_date

),

metric_values as (

    select * from frequency
    union all
    select * from failure_rate
    union all
    select * from lead_time
    union all
    select * from time_to_restore

),

final as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        days.measured_at,
        days.is_complete_day,
        days.is_calendar_day,
        cast(metric_values.headline_base_value as {{ contract_double() }})
            as headline_base_value,
        cast(metric_values.criterion_base_value as {{ contract_double() }})
            as daily_criterion_base_value,
        coalesce(metric_values.sample_count, 0) as sample_count,
        coalesce(first_data.first_date <= days.metric_date, false) as has_data
    from days
    left join metric_values
        on
            days.contract_id = metric_values.contract_id
            and days.outcome_id = metric_values.outcome_id
            and days.metric_date = metric_values.metric_date
    left join first_data
        on
            days.contract_id = first_data.contract_id
            and days.outcome_id = first_data.outcome_id

)

select * from final
