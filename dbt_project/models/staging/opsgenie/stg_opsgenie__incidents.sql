{#-
    The raw table exists once the Opsgenie asset has run on this warehouse.
    Until then this view is empty, so the incident models build without it.
-#}
{%- set raw_table = source('opsgenie', 'raw_opsgenie__incidents') -%}
{%- set raw_exists = execute and load_relation(raw_table) is not none -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as incident_id,
            cast(null as {{ dbt.type_string() }}) as service,
            cast(null as {{ type_timestamptz() }}) as alert_at,
            cast(null as {{ type_timestamptz() }}) as resolved_at,
            cast(null as {{ type_timestamptz() }}) as updated_at,
            cast(null as {{ dbt.type_string() }}) as caused_by_deployment_id,
            cast(null as {{ dbt.type_string() }}) as root_cause_sha,
            cast(null as {{ dbt.type_string() }}) as merged_into,
            cast(null as {{ dbt.type_string() }}) as resolution_reason,
            cast(null as boolean) as is_production,
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
        incident_id,
        service,
        alert_at,
        resolved_at,
        updated_at,
        caused_by_deployment_id,
        root_cause_sha,
        merged_into,
        resolution_reason,
        is_production,
        record_index,
        _loaded_at as loaded_at

    from source

),

-- A section split into per-service partitions can hold one incident under two
-- partition keys. For example, an incident that impacts two listed services is loaded by both.
-- After a switch between one partition and one per service, both keys hold
-- it until the merge deletes the earlier key's rows. The latest update wins.
ranked as (

    select
        *,
        row_number() over (
            partition by source, incident_id
            order by updated_at desc nulls last, loaded_at desc nulls last, partition_key asc
        ) as load_rank
    from renamed

),

final as (

    select
        source,
        incident_id,
        service,
        alert_at,
        resolved_at,
        updated_at,
        caused_by_deployment_id,
        root_cause_sha,
        merged_into,
        resolution_reason,
        is_production,
        record_index,
        loaded_at
    from ranked
    where load_rank = 1

)

select * from final
