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
        -- The section's source_name: the text of the partition key before its first ':'.
        {{ dbt.split_part('_source', "':'", 1) }} as source,
        _source as partition_key,
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

-- A log entry can be stored under two partition keys of one section, as its
-- incident can (see stg_pagerduty__incidents); the latest load wins.
ranked as (

    select
        *,
        row_number() over (
            partition by source, log_entry_id
            order by loaded_at desc nulls last, partition_key asc
        ) as load_rank
    from renamed

),

final as (

    select
        source,
        log_entry_id,
        incident_id,
        entry_type,
        created_at,
        channel_type,
        agent_type,
        record_index,
        loaded_at
    from ranked
    where load_rank = 1

)

select * from final
