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
{%- set longest_window = window_lengths | max %}
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

    Incremental builds (DuckDB): each row stores a fingerprint of its
    window's samples. A build computes the totals and fingerprints of every
    row again, which is linear and cheap, and finds per service the first
    as-of day whose fingerprint changed or that is new. It computes the
    percentiles only from that day on, over the samples of the 90 days
    before it, and writes only those rows. A row's values depend on nothing
    but its window's samples, so the rows it keeps are those a full build
    would write.
#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['as_of_date', 'window_days', 'service'],
    on_schema_change='append_new_columns',
    post_hook=[
        "{{ delete_missing_keys(['dora_daily'], ['as_of_date', 'service'],"
        " ['metric_date', 'service']) }}"
    ]
) }}
{%- set is_extending = has_row_hash() and extends_stored_table(['sample_fingerprint']) %}

with

sample_rows as (

    select
        *,
        {{ day_number_of }} as day_number
    from {{ ref('dora_daily__samples') }}

),

spine as (

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
        sum(recovery_seconds) as recovery_seconds_sum,
        sum({{ row_hash(sample_metric_inputs()) }}) as sample_hash_sum
    from sample_rows
    group by service, day_number

),

-- Spine days and sample days together, so a window sums the days with
-- samples in its range even where the spine skips them.
day_grid as (

    select
        coalesce(spine.service, day_totals.service) as service,
        coalesce(spine.day_number, day_totals.day_number) as day_number,
        spine.metric_date,
        spine.service is not null as is_spine,
        {%- for column in total_columns %}
            day_totals.{{ column }},
        {%- endfor %}
        day_totals.restore_seconds_sum,
        day_totals.max_restore_seconds,
        day_totals.recovery_seconds_sum,
        day_totals.sample_hash_sum
    from spine
    full outer join day_totals
        on
            spine.service = day_totals.service
            and spine.day_number = day_totals.day_number

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
            sum(recovery_seconds_sum) {{ trailing_window }} as recovery_seconds_sum,
            {{ fold_hash_sum('coalesce(sum(sample_hash_sum) ' ~ trailing_window ~ ', 0)') }}
                as sample_fingerprint
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

{% if is_extending %}

    stored as (

        select
            as_of_date,
            window_days,
            service,
            sample_fingerprint
        from {{ this }}

    ),

    -- Per service, the first as-of day with a row to write: its window's
    -- samples changed since the stored row was written, or there is none.
    changed_services as (

        select
            spine_totals.service,
            min(spine_totals.day_number) as first_day_number
        from spine_totals
        left join stored
            on
                spine_totals.as_of_date = stored.as_of_date
                and spine_totals.window_days = stored.window_days
                and spine_totals.service = stored.service
        where stored.sample_fingerprint is distinct from spine_totals.sample_fingerprint
        group by spine_totals.service

    ),

    -- The percentile lanes read `samples` and `daily`: the days from the
    -- first one to write on, and the samples their longest windows contain.
    -- The linter does not see the lanes read `samples` in their subqueries.
    samples as (  -- noqa: ST03

        select sample_rows.*
        from sample_rows
        inner join changed_services
            on sample_rows.service = changed_services.service
        where sample_rows.day_number > changed_services.first_day_number - {{ longest_window }}

    ),

    daily as (

        select spine.*
        from spine
        inner join changed_services
            on spine.service = changed_services.service
        where spine.day_number >= changed_services.first_day_number

    ),

    written_totals as (

        select spine_totals.*
        from spine_totals
        inner join daily
            on
                spine_totals.service = daily.service
                and spine_totals.day_number = daily.day_number

    ),

{% else %}

samples as (

    select * from sample_rows

),

daily as (

    select * from spine

),

written_totals as (

    select * from spine_totals

),

{% endif %}
{%- for lane, column, percentiles in percentile_lanes %}

    {{ lane }}_spine as (

        select * from {{ trailing_percentile_lane(lane, column, percentiles, window_lengths) }}

    ),
{%- endfor %}

final as (

    select
        written_totals.as_of_date,
        written_totals.window_days,
        written_totals.window_start_date,
        written_totals.service,
        written_totals.deployment_count,
        written_totals.eligible_deployment_count,
        written_totals.failed_deployment_count,
        cast(written_totals.failed_deployment_count as {{ type_double() }})
        / nullif(written_totals.eligible_deployment_count, 0) as change_failure_rate,
        written_totals.unplanned_deployment_count,
        cast(written_totals.unplanned_deployment_count as {{ type_double() }})
        / nullif(written_totals.deployment_count, 0) as rework_rate,
        written_totals.pr_lead_time_sample_count,
        case written_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then pr_spine.median_pr_lead_time_seconds_{{ days }}
            {%- endfor %}
        end as median_pr_lead_time_seconds,
        written_totals.commit_lead_time_sample_count,
        case written_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then commit_spine.median_commit_lead_time_seconds_{{ days }}
            {%- endfor %}
        end as median_commit_lead_time_seconds,
        written_totals.incident_count,
        written_totals.open_incident_count,
        written_totals.restore_seconds_sum
        / nullif(written_totals.restore_sample_count, 0) as mean_restore_seconds,
        case written_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then restore_spine.median_restore_seconds_{{ days }}
            {%- endfor %}
        end as median_restore_seconds,
        case written_totals.window_days
            {%- for days in window_lengths %}
                when {{ days }} then restore_spine.p90_restore_seconds_{{ days }}
            {%- endfor %}
        end as p90_restore_seconds,
        written_totals.max_restore_seconds,
        written_totals.recovered_deployment_count,
        written_totals.recovery_seconds_sum
        / nullif(written_totals.recovered_deployment_count, 0)
            as mean_failed_deployment_recovery_seconds,
        cast(written_totals.deployment_count as {{ type_double() }}) / written_totals.window_days
            as deployment_frequency_per_day,
        written_totals.sample_fingerprint
    from
        written_totals
    {%- for lane, column, percentiles in percentile_lanes %}
    left join {{ lane }}_spine
        on
            written_totals.service = {{ lane }}_spine.service
            and written_totals.day_number = {{ lane }}_spine.day_number
    {%- endfor %}

)

select * from final
