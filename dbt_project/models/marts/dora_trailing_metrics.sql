{%- set window_lengths = [7, 30, 90] %}

with

samples as (

    select * from {{ ref('dora_daily__samples') }}

),

daily as (

    select * from {{ ref('dora_daily') }}

),

windows as (

    select window_lengths.window_days
    from (
        values
        {%- for days in window_lengths %}
            ({{ days }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as window_lengths (window_days)

),

-- One window per as-of date and length, ending on that date (inclusive).
spine as (

    select
        daily.metric_date as as_of_date,
        cast({{ dbt.dateadd('day', '1 - windows.window_days', 'daily.metric_date') }} as date)
            as window_start_date,
        windows.window_days,
        daily.service
    from daily
    cross join windows

),

aggregated as (

    select
        spine.as_of_date,
        spine.window_days,
        spine.window_start_date,
        spine.service,
        {{ dora_metric_columns('samples') }}
    from spine
    left join samples
        on
            spine.service = samples.service
            and spine.window_start_date <= samples.metric_date
            and spine.as_of_date >= samples.metric_date
    group by spine.as_of_date, spine.window_days, spine.window_start_date, spine.service

),

final as (

    select
        *,
        cast(deployment_count as {{ type_double() }}) / window_days
            as deployment_frequency_per_day
    from aggregated

)

select * from final
