{%- set window_lengths = [7, 30, 90] %}
{#- Days are grouped in buckets as long as the longest window: a window ending in
    bucket b only reaches samples of buckets b - 1 and b, so the join pairs each
    window with two buckets of samples instead of the service's whole history. #}
{%- set bucket_days = window_lengths | max %}

with

samples as (

    select * from {{ ref('dora_daily__samples') }}

),

-- Each sample once in its own bucket and once in the next one.
bucketed_samples as (

    select
        samples.*,
        cast(
            floor(
                cast(
                    {{ dbt.datediff("cast('1970-01-01' as date)", "samples.metric_date", 'day') }}
                    as {{ type_double() }}
                ) / {{ bucket_days }}
            ) as integer
        ) + shifts.shift as day_bucket
    from samples
    cross join (values (0), (1)) as shifts (shift)

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
        daily.service,
        cast(
            floor(
                cast(
                    {{ dbt.datediff("cast('1970-01-01' as date)", "daily.metric_date", 'day') }}
                    as {{ type_double() }}
                ) / {{ bucket_days }}
            ) as integer
        ) as day_bucket
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
    left join bucketed_samples as samples
        on
            spine.service = samples.service
            and spine.day_bucket = samples.day_bucket
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
