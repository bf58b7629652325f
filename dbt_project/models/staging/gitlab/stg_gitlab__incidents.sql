{#-
    The raw table exists once the GitLab assets have run on this warehouse.
    Until then this view is empty, so the incident models build without it.
-#}
{%- set raw_table = source('gitlab', 'raw_gitlab__incidents') -%}
{%- set raw_exists = execute and load_relation(raw_table) is not none -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
        select
            cast(null as varchar) as _source,
            cast(null as varchar) as incident_id,
            cast(null as integer) as number,
            cast(null as varchar) as service,
            cast(null as timestamp with time zone) as alert_at,
            cast(null as timestamp with time zone) as resolved_at,
            cast(null as timestamp with time zone) as updated_at,
            cast(null as timestamp with time zone) as _loaded_at
        where false
    {%- endif %}

),

renamed as (

    select
        _source as source,
        incident_id,
        service,
        alert_at,
        resolved_at,
        updated_at,
        cast(null as varchar) as caused_by_deployment_id,
        cast(null as varchar) as root_cause_sha,
        cast(null as varchar) as merged_into,
        case when resolved_at is not null then 'resolved' end as resolution_reason,
        true as is_production,
        number as record_index,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
