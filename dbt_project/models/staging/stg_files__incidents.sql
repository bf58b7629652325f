with

source as (

    select * from {{ source('raw', 'raw_files__incidents') }}

),

renamed as (

    select
        _source as source,
        incident_id,
        service,
        alert_at,
        resolved_at,
        updated_at,
        caused_by_deployment_id,
        trim(root_cause_sha) as root_cause_sha,
        merged_into,
        resolution_reason,
        coalesce(is_production, true) as is_production,
        record_index,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
