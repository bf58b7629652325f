{%- set window_lengths = [7, 30, 90] %}
{#- Sample-level lanes for the percentiles: (lane, sample column, [(fraction, output column)]). #}
{%- set percentile_lanes = [
    ('pr', 'pr_lead_time_seconds', [(0.5, 'median_pr_lead_time_seconds')]),
    ('commit', 'commit_lead_time_seconds', [(0.5, 'median_commit_lead_time_seconds')]),
    ('restore', 'restore_seconds', [(0.5, 'median_restore_seconds'), (0.9, 'p90_restore_seconds')]),
] %}
{%- set total_columns = [
    'deployment_count', 'eligible_deployment_count', 'failed_deployment_count',
    'unplanned_deployment_count', 'pr_lead_time_sample_count', 'commit_lead_time_sample_count',
    'incident_count', 'open_incident_count', 'restore_sample_count', 'recovered_deployment_count',
] %}
{%- set epoch_date = "cast('1970-01-01' as date)" %}
{%- set day_number_of = "cast(" ~ dbt.datediff(epoch_date, 'metric_date', 'day') ~ " as bigint)" %}
{#-
    Cost: counts, sums and maxima are summed per (service, day) first and then
    over each window with range frames on the spine and sample days, so they
    are linear in samples plus days x services. Means are window sums of daily
    sums over counts: equal to avg() over the samples, up to rounding when the
    seconds are not whole numbers. The percentiles come from
    trailing_percentile_lane (macros/trailing_percentiles.sql): O(n log n) in
    a lane's samples on DuckDB, O(samples x 90) elsewhere.
#}

with

samples as (

    select
        *,
        {{ day_number_of }} as day_number
    from {{ ref('dora_daily__samples') }}

),

daily as (

    select
        metric_date,
        service,
        {{ day_number_of }} as day_number
    from {{ ref('dora_daily') }}

),

-- Everything except the percentiles, per (service, day).
day_totals as (

    select
        service,
        day_number,
        count(case when sample_kind = 'deployment' then 1 end) as deployment_count,
        count(case when sample_kind = 'deployment' and is_cfr_eligible then 1 end)
            as eligible_deployment_count,
        count(case when sample_kind = 'deployment' and is_cfr_eligible and is_failed then 1 end)
            as failed_deployment_count,
        count(case when sample_kind = 'deployment' and is_unplanned then 1 end)
            as unplanned_deployment_count,
        count(pr_lead_time_seconds) as pr_lead_time_sample_count,
        count(commit_lead_time_seconds) as commit_lead_time_sample_count,
        count(case when sample_kind = 'incident' then 1 end) as incident_count,
        count(case when sample_kind = 'incident' and is_open then 1 end) as open_incident_count,
        count(restore_seconds) as restore_sample_count,
        sum(restore_seconds) as restore_seconds_sum,
        max(restore_seconds) as max_restore_seconds,
        count(recovery_seconds) as recovered_deployment_count,
        sum(recovery_seconds) as recovery_seconds_sum
    from samples
    group by service, day_number

),

-- Spine days and sample days together, so a window sums the days with
-- samples in its range even where the spine skips them.
day_grid as (

    select
        coalesce(daily.service, day_totals.service) as service,
        coalesce(daily.day_number, day_totals.day_number) as day_number,
        daily.metric_date,
        daily.service is not null as is_spine,
        {%- for column in total_columns %}
            day_totals.{{ column }},
        {%- endfor %}
        day_totals.restore_seconds_sum,
        day_totals.max_restore_seconds,
        day_totals.recovery_seconds_sum
    from daily
    full outer join day_totals
        on
            daily.service = day_totals.service
            and daily.day_number = day_totals.day_number

),

-- One window per as-of date and length, ending on that date (inclusive).
window_totals as (
    {%- for days in window_lengths %}
        {%- set trailing_window = (
            'over (partition by service order by day_number range between '
            ~ (days - 1) ~ ' preceding and current row)'
        ) %}

        select
            metric_date as as_of_date,
            {{ days }} as window_days,
            cast({{ dbt.dateadd('day', 1 - days, 'metric_date') }} as date) as window_start_date,
            service,
            day_number,
            is_spine,
            {%- for column in total_columns %}
                cast(coalesce(sum({{ column }}) {{ trailing_window }}, 0) as bigint)
                    as {{ column }},
            {%- endfor %}
            sum(restore_seconds_sum) {{ trailing_window }} as restore_seconds_sum,
            max(max_restore_seconds) {{ trailing_window }} as max_restore_seconds,
            sum(recovery_seconds_sum) {{ trailing_window }} as recovery_seconds_sum
        from day_grid
        {%- if not loop.last %}

            union all
        {%- endif %}
    {%- endfor %}

),

spine_totals as (

    select * from window_totals
    where is_spine

),
{%- for lane, column, percentiles in percentile_lanes %}

    {{ lane }}_spine as (

        select * from {{ trailing_percentile_lane(lane, column, percentiles, window_lengths) }}

    ),
{%- endfor %}

final as (

    select
        spine_totals.as_of_date,
        spine_totals.window_days,
        spine_totals.window_start_date,
        spine_totals.service,
        spine_totals.deployment_count,
        spine_totals.eligible_deployment_count,
        spine_totals.failed_deployment_count,
        cast(spine_totals.failed_deployment_count as {{ type_double() }})
        / nullif(spine_totals.eligible_deployment_count, 0) as change_failure_rate,
        spine_totals.unplanned_deployment_count,
        cast(spine_totals.unplanned_deployment_count as {{ type_double() }})
        / nullif(spine_totals.deployment_count, 0) as rework_rate,
        spine_totals.pr_lead_time_sample_count,
        case spine_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then pr_spine.median_pr_lead_time_seconds_{{ days }}
            {%- endfor %}
        end as median_pr_lead_time_seconds,
        spine_totals.commit_lead_time_sample_count,
        case spine_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then commit_spine.median_commit_lead_time_seconds_{{ days }}
            {%- endfor %}
        end as median_commit_lead_time_seconds,
        spine_totals.incident_count,
        spine_totals.open_incident_count,
        spine_totals.restore_seconds_sum
        / nullif(spine_totals.restore_sample_count, 0) as mean_restore_seconds,
        case spine_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then restore_spine.median_restore_seconds_{{ days }}
            {%- endfor %}
        end as median_restore_seconds,
        case spine_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then restore_spine.p90_restore_seconds_{{ days }}
            {%- endfor %}
        end as p90_restore_seconds,
        spine_totals.max_restore_seconds,
        spine_totals.recovered_deployment_count,
        spine_totals.recovery_seconds_sum
        / nullif(spine_totals.recovered_deployment_count, 0)
            as mean_failed_deployment_recovery_seconds,
        cast(spine_totals.deployment_count as {{ type_double() }}) / spine_totals.window_days
            as deployment_frequency_per_day
    from
        spine_totals
    {%- for lane, column, percentiles in percentile_lanes %}
    left join {{ lane }}_spine
        on
            spine_totals.service = {{ lane }}_spine.service
            and spine_totals.day_number = {{ lane }}_spine.day_number
    {%- endfor %}

)

select * from final
