{#-
    The raw table exists once the GitHub assets have run on this warehouse.
    Until then this view is empty, so the incident models build without it.
-#}
{%- set raw_table = source('github', 'raw_github__incidents') -%}
{%- set raw_exists = execute and load_relation(raw_table) is not none -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as incident_id,
            cast(null as integer) as number,
            cast(null as {{ dbt.type_string() }}) as service,
            cast(null as {{ type_timestamptz() }}) as alert_at,
            cast(null as {{ type_timestamptz() }}) as resolved_at,
            cast(null as {{ type_timestamptz() }}) as updated_at,
            cast(null as {{ dbt.type_string() }}) as resolution_reason,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
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
        cast(null as {{ dbt.type_string() }}) as caused_by_deployment_id,
        cast(null as {{ dbt.type_string() }}) as root_cause_sha,
        cast(null as {{ dbt.type_string() }}) as merged_into,
        resolution_reason,
        true as is_production,
        number as record_index,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
