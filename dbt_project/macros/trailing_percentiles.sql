{#-
    One percentile lane of dora_trailing_metrics, as a subquery: one row per
    (service, day_number) of the model's CTE `daily`, with a column
    `<output>_<days>` per percentile and window length, over the non-null
    values of `column` in the model's CTE `samples` (both CTEs have `service`
    and an integer `day_number`).
-#}
{% macro trailing_percentile_lane(lane, column, percentiles, window_lengths) -%}
    {{ return(adapter.dispatch('trailing_percentile_lane', 'dora')(lane, column, percentiles, window_lengths)) }}
{%- endmacro %}


{#-
    Portable version: each spine day is joined to the samples of its longest
    window, so the cost is O(samples x longest window in days).
    NOTE: checked against the DuckDB version on DuckDB only (identical rows
    at benchmark size large), not yet run on PostgreSQL or Spark.
-#}
{% macro default__trailing_percentile_lane(lane, column, percentiles, window_lengths) -%}
{%- set longest = window_lengths | max %}
(
with

{{ lane }}_values as (

    select
        service,
        day_number,
        {{ column }} as sample_value
    from samples
    where {{ column }} is not null

),

{{ lane }}_spine as (

    select
        daily.service,
        daily.day_number,
        {%- for days in window_lengths %}
            {%- for fraction, name in percentiles %}
                {{ percentile(
                    'case when lane_values.day_number > daily.day_number - ' ~ days
                    ~ ' then lane_values.sample_value end',
                    fraction
                ) }} as {{ name }}_{{ days }}{% if not loop.last %},{% endif %}
            {%- endfor %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from daily
    left join {{ lane }}_values as lane_values
        on
            daily.service = lane_values.service
            and lane_values.day_number > daily.day_number - {{ longest }}
            and lane_values.day_number <= daily.day_number
    group by daily.service, daily.day_number

)

select * from {{ lane }}_spine
) as {{ lane }}_lane
{%- endmacro %}


{#-
    DuckDB version: a percentile is a window function over the samples of the
    lane, which DuckDB evaluates with a merge sort tree (O(n log n) in the
    lane's samples, whatever the window length). The spine rows are sorted
    after every sample of their service, and each reads the samples of its
    window through row offsets computed from running counts. A spine row
    inside the sample order would need a null value, and DuckDB 2.0.1 evaluates
    a windowed percentile over a column with nulls far more slowly (over 300 s
    against 12 s for 2.5 million samples).
    Row offsets taken from a column are a DuckDB feature.
-#}
{% macro duckdb__trailing_percentile_lane(lane, column, percentiles, window_lengths) -%}
(
with

{{ lane }}_values as (

    select
        service,
        day_number,
        {{ column }} as sample_value
    from samples
    where {{ column }} is not null

),

{{ lane }}_day_counts as (

    select
        service,
        day_number,
        count(*) as sample_count
    from {{ lane }}_values
    group by service, day_number

),

{{ lane }}_totals as (

    select
        service,
        count(*) as sample_total
    from {{ lane }}_values
    group by service

),

-- Sample days and spine days of the lane, in day order per service.
{{ lane }}_days as (

    select
        service,
        day_number,
        sample_count,
        false as is_spine
    from {{ lane }}_day_counts

    union all

    select
        service,
        day_number,
        0 as sample_count,
        true as is_spine
    from daily

),

-- Positions (1-based, in sample order) of the first and last sample of each
-- window: a running count of the samples through the day, and through the
-- day before the window starts, plus one.
{{ lane }}_positions as (

    select
        service,
        day_number,
        is_spine,
        coalesce(
            sum(sample_count) over (
                partition by service
                order by day_number
                range between unbounded preceding and current row
            ),
            0
        ) as last_position,
        {%- for days in window_lengths %}
            coalesce(
                sum(sample_count) over (
                    partition by service
                    order by day_number
                    range between unbounded preceding and {{ days }} preceding
                ),
                0
            ) + 1 as first_position_{{ days }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ lane }}_days

),

-- A spine row is placed after every sample of its service.
{{ lane }}_frames as (

    select
        positions.*,
        coalesce(lane_totals.sample_total, 0)
        + row_number() over (partition by positions.service order by positions.day_number)
            as spine_position
    from {{ lane }}_positions as positions
    left join {{ lane }}_totals as lane_totals
        on positions.service = lane_totals.service
    where positions.is_spine

),

-- Samples come first. Their frame runs from the row itself to the row
-- before it, which is empty, so DuckDB computes no percentile for the sample
-- rows that the model drops anyway. At benchmark size large the model took
-- 23 s CPU with one-row frames here and 9 s with empty ones. Each spine row's
-- frame is the samples of its window. A frame whose first row comes after
-- its last one is empty and gives null.
{{ lane }}_rows as (

    select
        service,
        day_number,
        sample_value,
        false as is_spine,
        cast(1 as bigint) as last_offset,
        {%- for days in window_lengths %}
            cast(0 as bigint) as first_offset_{{ days }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ lane }}_values

    union all

    select
        service,
        day_number,
        cast(0 as {{ type_double() }}) as sample_value,
        true as is_spine,
        spine_position - last_position as last_offset,
        {%- for days in window_lengths %}
            spine_position - first_position_{{ days }} as first_offset_{{ days }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ lane }}_frames

),

{{ lane }}_percentiles as (

    select
        service,
        day_number,
        {%- for days in window_lengths %}
            {%- for fraction, name in percentiles %}
                {{ percentile('sample_value', fraction) }} over (
                    partition by service
                    order by is_spine, day_number
                    rows between first_offset_{{ days }} preceding and last_offset preceding
                ) as {{ name }}_{{ days }},
            {%- endfor %}
        {%- endfor %}
        is_spine
    from {{ lane }}_rows

),

{{ lane }}_spine as (

    select * from {{ lane }}_percentiles
    where is_spine

)

select * from {{ lane }}_spine
) as {{ lane }}_lane
{%- endmacro %}
