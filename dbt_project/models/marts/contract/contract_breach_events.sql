{#- A breach is the first day of each run of days on which the criterion
    does not hold; a recovery is the first day it holds again. Days are
    evaluated from the baseline checkpoint on (a checkpoint), so a criterion
    that does not hold there is a breach on that day. -#}

with

daily as (

    select * from {{ ref('contract_outcome_daily') }}

),

outcomes as (

    select * from {{ ref('contract_outcomes') }}

),

evaluated_days as (

    select
        daily.*,
        lag(daily.is_criterion_met) over (
            partition by daily.contract_id, daily.outcome_id order by daily.metric_date
        ) as was_criterion_met
    from daily
    inner join outcomes
        on
            daily.contract_id = outcomes.contract_id
            and daily.outcome_id = outcomes.outcome_id
    where daily.metric_date >= outcomes.baseline_date and daily.has_data

),

changes as (

    select
        *,
        case
            when not is_criterion_met and coalesce(was_criterion_met, true) then 'breach'
            when is_criterion_met and not was_criterion_met then 'recovery'
        end as status_change
    from evaluated_days

),

final as (

    select
        contract_id,
        outcome_id,
        metric,
        metric_date as event_date,
        measured_at,
        status_change,
        headline_value,
        criterion_value,
        operator,
        target_value,
        unit,
        margin,
        status,
        checkpoint_name
    from changes
    where status_change is not null

)

select * from final
