{#-
    Incremental builds (DuckDB): each row stores a fingerprint of its day's
    samples. A build computes every day's fingerprint again, a cheap pass
    over the samples, and computes the metrics only of the days whose
    fingerprint changed or that have no row yet. The post-hook deletes the
    rows of days and services that left the spine.
#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['metric_date', 'service'],
    on_schema_change='append_new_columns',
    post_hook=["{{ delete_days_off_spine() }}"]
) }}
{%- set is_extending = has_row_hash() and extends_stored_table(['sample_fingerprint']) %}

with recursive

samples as (

    select * from {{ ref('dora_daily__samples') }}

),

bounds as (

    select
        min(metric_date) as first_date,
        {{ local_date(as_of_timestamp()) }} as last_date
    from samples

),

-- Every local date from the first event to the as_of date.
dates (metric_date) as (

    select first_date as metric_date
    from bounds
    where first_date is not null

    union all

    select cast({{ dbt.dateadd('day', 1, 'dates.metric_date') }} as date) as metric_date
    from dates
    inner join bounds
        on dates.metric_date < bounds.last_date

),

services as (

    select distinct service from samples

),

day_fingerprints as (

    select
        metric_date,
        service,
        {{ fold_hash_sum('sum(' ~ row_hash(sample_metric_inputs()) ~ ')') }} as sample_fingerprint
    from samples
    group by metric_date, service

),

spine as (

    select
        dates.metric_date,
        services.service,
        coalesce(day_fingerprints.sample_fingerprint, 0) as sample_fingerprint
    from dates
    cross join services
    left join day_fingerprints
        on
            dates.metric_date = day_fingerprints.metric_date
            and services.service = day_fingerprints.service

),

{% if is_extending %}

    stored as (

        select
            metric_date,
            service,
            sample_fingerprint
        from {{ this }}

    ),

    -- Days whose samples changed since the stored row was written, or without one.
    written_days as (

        select spine.*
        from spine
        left join stored
            on
                spine.metric_date = stored.metric_date
                and spine.service = stored.service
        where stored.sample_fingerprint is distinct from spine.sample_fingerprint

    ),

{% else %}

written_days as (

    select * from spine

),

{% endif %}

final as (

    select
        written_days.metric_date,
        written_days.service,
        {{ dora_metric_columns('samples') }},
        written_days.sample_fingerprint
    from written_days
    left join samples
        on
            written_days.metric_date = samples.metric_date
            and written_days.service = samples.service
    group by written_days.metric_date, written_days.service, written_days.sample_fingerprint

)

select * from final
