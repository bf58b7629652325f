with recursive

outcomes as (

    select * from {{ ref('contract_outcomes') }}

),

holidays as (

    select * from {{ ref('contract_holidays') }}

),

-- Each outcome's range: far enough back for its first window and sustain
-- period, up to the local date of as_of in the contract's zone.
bounds as (

    select
        contract_id,
        outcome_id,
        timezone,
        calendar,
        {{ contract_add_days('start_date', '0 - window_days - sustain_days') }} as first_date,
        {{ contract_local_date(as_of_timestamp(), 'timezone') }} as last_date
    from outcomes

),

days (contract_id, outcome_id, metric_date) as (

    select
        contract_id,
        outcome_id,
        first_date as metric_date
    from bounds
    where first_date <= last_date

    union all

    select
        days.contract_id,
        days.outcome_id,
        {{ contract_add_days('days.metric_date', 1) }} as metric_date
    from days
    inner join bounds
        on
            days.contract_id = bounds.contract_id
            and days.outcome_id = bounds.outcome_id
            and days.metric_date < bounds.last_date

),

located as (

    select
        days.contract_id,
        days.outcome_id,
        days.metric_date,
        bounds.calendar,
        {{ contract_day_start('days.metric_date', 'bounds.timezone') }} as day_start_at,
        {{ contract_day_start(contract_add_days('days.metric_date', 1), 'bounds.timezone') }}
            as day_end_at,
        {{ contract_is_weekend('days.metric_date') }} as is_weekend,
        holidays.holiday_date is not null as is_holiday
    from days
    inner join bounds
        on
            days.contract_id = bounds.contract_id
            and days.outcome_id = bounds.outcome_id
    left join holidays
        on
            days.contract_id = holidays.contract_id
            and days.metric_date = holidays.holiday_date

),

final as (

    select
        contract_id,
        outcome_id,
        metric_date,
        day_start_at,
        day_end_at,
        case
            when day_end_at < {{ as_of_timestamp() }} then day_end_at
            else {{ as_of_timestamp() }}
        end as measured_at,
        day_end_at <= {{ as_of_timestamp() }} as is_complete_day,
        is_weekend,
        is_holiday,
        calendar = 'all_days' or not (is_weekend or is_holiday) as is_calendar_day
    from located

)

select * from final
