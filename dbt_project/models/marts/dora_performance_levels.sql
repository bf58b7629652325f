with

trailing_metrics as (

    select * from {{ ref('dora_trailing_metrics') }}

),

benchmarks as (

    select * from {{ ref('dora_performance_benchmarks') }}

),

latest_year as (

    select max(report_year) as report_year
    from benchmarks

),

-- The newest report year, then the newest version of it.
current_edition as (

    select
        benchmarks.report_year,
        max(benchmarks.version) as version  -- noqa: RF04
    from benchmarks
    inner join latest_year
        on benchmarks.report_year = latest_year.report_year
    group by benchmarks.report_year

),

current_benchmarks as (

    select benchmarks.*
    from benchmarks
    inner join current_edition
        on
            benchmarks.report_year = current_edition.report_year
            and benchmarks.version = current_edition.version

),

metric_units as (

    select distinct
        metric,
        unit
    from current_benchmarks

),

latest as (

    select * from trailing_metrics
    where
        window_days = 30
        and as_of_date = {{ local_date(as_of_timestamp()) }}

),

-- Durations in the unit of the thresholds (hours).
metric_values as (

    select
        as_of_date,
        service,
        'deployment_frequency' as metric,
        deployment_frequency_per_day as metric_value
    from latest
    union all
    select
        as_of_date,
        service,
        'lead_time_for_changes' as metric,
        median_pr_lead_time_seconds / 3600.0 as metric_value
    from latest
    union all
    select
        as_of_date,
        service,
        'change_failure_rate' as metric,
        change_failure_rate as metric_value
    from latest
    union all
    select
        as_of_date,
        service,
        'time_to_restore' as metric,
        mean_restore_seconds / 3600.0 as metric_value
    from latest
    union all
    select
        as_of_date,
        service,
        'failed_deployment_recovery_time' as metric,
        mean_failed_deployment_recovery_seconds / 3600.0 as metric_value
    from latest

),

classified as (

    select
        metric_values.as_of_date,
        metric_values.service,
        metric_values.metric,
        metric_values.metric_value,
        metric_units.unit,
        current_benchmarks.level,
        current_benchmarks.report_year,
        current_benchmarks.version
    from metric_values
    left join metric_units
        on metric_values.metric = metric_units.metric
    left join current_benchmarks
        on
            metric_values.metric = current_benchmarks.metric
            and (
                current_benchmarks.lower_bound is null
                or metric_values.metric_value > current_benchmarks.lower_bound
                or (
                    current_benchmarks.lower_bound_inclusive
                    and metric_values.metric_value = current_benchmarks.lower_bound
                )
            )
            and (
                current_benchmarks.upper_bound is null
                or metric_values.metric_value < current_benchmarks.upper_bound
                or (
                    current_benchmarks.upper_bound_inclusive
                    and metric_values.metric_value = current_benchmarks.upper_bound
                )
            )

),

final as (

    select * from classified

)

select * from final
