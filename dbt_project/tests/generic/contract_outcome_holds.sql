{#- Each returned row is an outcome of the given metric whose latest day is
    off-track or missed: its contract criterion does not hold (or did not hold
    at the final checkpoint). Declared with severity warn, so a breach shows
    as a failed, non-blocking check and the refresh still succeeds. -#}
{% test contract_outcome_holds(model, metric) %}

with

latest_days as (

    select
        contract_id,
        outcome_id,
        max(metric_date) as metric_date
    from {{ model }}
    where metric = '{{ metric }}'
    group by contract_id, outcome_id

),

final as (

    select
        daily.contract_id,
        daily.outcome_id,
        daily.metric_date,
        daily.criterion_value,
        daily.operator,
        daily.target_value,
        daily.unit,
        daily.status
    from {{ model }} as daily
    inner join latest_days
        on
            daily.contract_id = latest_days.contract_id
            and daily.outcome_id = latest_days.outcome_id
            and daily.metric_date = latest_days.metric_date
    where daily.status in ('off-track', 'missed')

)

select * from final

{% endtest %}
