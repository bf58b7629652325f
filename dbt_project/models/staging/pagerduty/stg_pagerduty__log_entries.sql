{#-
    The raw table exists once the PagerDuty asset has run on this warehouse.
    Until then this view is empty.
-#}
{%- set raw_table = source('pagerduty', 'raw_pagerduty__log_entries') -%}
{%- set raw_exists = execute and load_relation(raw_table) is not none -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as log_entry_id,
            cast(null as {{ dbt.type_string() }}) as incident_id,
            cast(null as {{ dbt.type_string() }}) as entry_type,
            cast(null as {{ type_timestamptz() }}) as created_at,
            cast(null as {{ dbt.type_string() }}) as channel_type,
            cast(null as {{ dbt.type_string() }}) as agent_type,
            cast(null as integer) as record_index,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
        where false
    {%- endif %}

),

renamed as (

    select
        _source as source,
        log_entry_id,
        incident_id,
        entry_type,
        created_at,
        channel_type,
        agent_type,
        record_index,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
