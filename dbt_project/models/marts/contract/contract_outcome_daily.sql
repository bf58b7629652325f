with

outcomes as (

    select * from {{ ref('contract_outcomes') }}

),

daily_values as (

    select * from {{ ref('int_contract__daily_values') }}

),

schedule as (

    select * from {{ ref('contract_schedule') }}

),

-- The criterion reads the worst daily value over the sustain period: the
-- highest median, rate or restore time. The daily value of deployment
-- frequency is already the lowest count over the sustain period.
sustained as (

    select
        daily_values.contract_id,
        daily_values.outcome_id,
        daily_values.metric_date,
        max(earlier.daily_criterion_base_value) as worst_base_value,
        count(*) - count(earlier.daily_criterion_base_value) as days_without_value
    from daily_values
    inner join outcomes
        on
            daily_values.contract_id = outcomes.contract_id
            and daily_values.outcome_id = outcomes.outcome_id
    inner join daily_values as earlier
        on
            daily_values.contract_id = earlier.contract_id
            and daily_values.outcome_id = earlier.outcome_id
            and daily_values.metric_date >= earlier.metric_date
            and {{ contract_add_days('daily_values.metric_date', '0 - outcomes.sustain_days') }}
            < earlier.metric_date
    where daily_values.metric_date >= outcomes.start_date
    group by daily_values.contract_id, daily_values.outcome_id, daily_values.metric_date

),

-- A window with no sample has no criterion value. For time to restore that
-- means no incident, so every incident (none) was restored in time; for the
-- other metrics the criterion cannot hold.
criteria as (

    select
        daily_values.*,
        outcomes.mission_id,
        outcomes.metric,
        outcomes.operator,
        outcomes.target_value,
        outcomes.target_base_value,
        outcomes.unit,
        outcomes.unit_factor,
        outcomes.window_days,
        outcomes.sustain_days,
        outcomes.service_filter,
        outcomes.start_date,
        outcomes.baseline_date,
        outcomes.final_date,
        case
            when outcomes.metric = 'deployment_frequency'
                then daily_values.daily_criterion_base_value
            when outcomes.metric = 'time_to_restore' then sustained.worst_base_value
            when sustained.days_without_value = 0 then sustained.worst_base_value
        end as criterion_base_value
    from daily_values
    inner join outcomes
        on
            daily_values.contract_id = outcomes.contract_id
            and daily_values.outcome_id = outcomes.outcome_id
    inner join sustained
        on
            daily_values.contract_id = sustained.contract_id
            and daily_values.outcome_id = sustained.outcome_id
            and daily_values.metric_date = sustained.metric_date

),

-- The margin is a fraction of the target, rounded to 9 places so that a
-- value exactly 10 % from the target is at risk despite float error.
margins as (

    select
        *,
        {{ contract_round(
            "case
                when criterion_base_value is null and metric = 'time_to_restore' then 1.0
                when criterion_base_value is null then null
                when operator = '>='
                    then (criterion_base_value - target_base_value) / target_base_value
                else (target_base_value - criterion_base_value) / target_base_value
            end",
            9
        ) }} as margin
    from criteria

),

evaluated as (

    select
        *,
        coalesce(has_data and margin >= 0, false) as is_criterion_met
    from margins

),

-- The verdict is known once the final checkpoint's last day is complete.
with_final as (

    select
        *,
        max(
            case
                when metric_date = final_date and is_complete_day
                    then case when is_criterion_met then 1 else 0 end
            end
        ) over (partition by contract_id, outcome_id) as final_criterion_met
    from evaluated

),

final as (

    select
        with_final.contract_id,
        with_final.mission_id,
        with_final.outcome_id,
        with_final.metric,
        with_final.service_filter,
        with_final.metric_date,
        with_final.measured_at,
        with_final.is_complete_day,
        with_final.is_calendar_day,
        with_final.headline_base_value / with_final.unit_factor as headline_value,
        with_final.criterion_base_value / with_final.unit_factor as criterion_value,
        with_final.operator,
        with_final.target_value,
        with_final.unit,
        with_final.headline_base_value,
        with_final.criterion_base_value,
        with_final.target_base_value,
        with_final.window_days,
        with_final.sustain_days,
        with_final.sample_count,
        with_final.has_data,
        with_final.is_criterion_met,
        with_final.margin,
        case
            when
                with_final.metric_date >= with_final.final_date
                and with_final.final_criterion_met = 1
                then 'met'
            when
                with_final.metric_date >= with_final.final_date
                and with_final.final_criterion_met = 0
                then 'missed'
            when not with_final.has_data then 'not-started'
            when with_final.metric_date < with_final.baseline_date then 'baselining'
            when not with_final.is_criterion_met then 'off-track'
            when with_final.margin > {{ var('contract_at_risk_margin', 0.1) }} then 'on-track'
            else 'at-risk'
        end as status,
        schedule.checkpoint_name,
        coalesce(schedule.is_baseline, false) as is_baseline_checkpoint,
        coalesce(schedule.is_final, false) as is_final_checkpoint
    from with_final
    left join schedule
        on
            with_final.contract_id = schedule.contract_id
            and with_final.metric_date = schedule.measured_through_date
    where with_final.metric_date >= with_final.start_date

)

select * from final
