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

spine as (

    select
        dates.metric_date,
        services.service
    from dates
    cross join services

),

final as (

    select
        spine.metric_date,
        spine.service,
        {{ dora_metric_columns('samples') }}
    from spine
    left join samples
        on
            spine.metric_date = samples.metric_date
            and spine.service = samples.service
    group by spine.metric_date, spine.service

)

select * from final
