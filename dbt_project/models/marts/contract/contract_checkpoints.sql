with

outcomes as (

    select * from {{ ref('contract_outcomes') }}

),

schedule as (

    select * from {{ ref('contract_schedule') }}

),

daily as (

    select * from {{ ref('contract_outcome_daily') }}

),

checkpoint_rows as (

    select
        outcomes.contract_id,
        outcomes.outcome_id,
        outcomes.metric,
        outcomes.operator,
        outcomes.target_value,
        outcomes.unit,
        schedule.checkpoint_name,
        schedule.offset_weeks,
        schedule.measured_through_date,
        schedule.is_baseline,
        schedule.is_final
    from outcomes
    inner join schedule
        on outcomes.contract_id = schedule.contract_id

),

-- A checkpoint is reached once its last day is complete; before that its
-- values are empty.
measured as (

    select
        checkpoint_rows.*,
        coalesce(daily.is_complete_day, false) as is_reached,
        case when daily.is_complete_day then daily.headline_value end as headline_value,
        case when daily.is_complete_day then daily.criterion_value end as criterion_value,
        case when daily.is_complete_day then daily.is_criterion_met end as is_criterion_met,
        case when daily.is_complete_day then daily.margin end as margin,
        case when daily.is_complete_day then daily.status end as status
    from checkpoint_rows
    left join daily
        on
            checkpoint_rows.contract_id = daily.contract_id
            and checkpoint_rows.outcome_id = daily.outcome_id
            and checkpoint_rows.measured_through_date = daily.metric_date

),

baselines as (

    select
        contract_id,
        outcome_id,
        headline_value as baseline_headline_value,
        criterion_value as baseline_criterion_value
    from measured
    where is_baseline

),

final as (

    select
        measured.*,
        baselines.baseline_headline_value,
        baselines.baseline_criterion_value,
        measured.headline_value - baselines.baseline_headline_value
            as headline_change_from_baseline
    from measured
    left join baselines
        on
            measured.contract_id = baselines.contract_id
            and measured.outcome_id = baselines.outcome_id

)

select * from final
