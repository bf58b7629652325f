with

incident_records as (

    select * from {{ ref('int_incidents__records') }}

),

-- A merged group: the first alert of any member, everything else from the
-- surviving incident.
groups as (

    select
        incident_key,
        min(alert_at) as alert_at,
        count(*) - 1 as merged_incident_count
    from incident_records
    group by incident_key

),

surviving as (

    select * from incident_records
    where is_surviving

),

joined as (

    select
        surviving.incident_key,
        surviving.source,
        surviving.incident_id,
        surviving.service,
        groups.alert_at,
        surviving.resolved_at as resolved_at_reported,
        surviving.updated_at,
        surviving.resolution_reason,
        groups.merged_incident_count
    from surviving
    inner join groups
        on surviving.incident_key = groups.incident_key

),

-- Nothing after as_of counts: a later alert is left out, a later resolution
-- leaves the incident open at as_of.
measured as (

    select
        incident_key,
        source,
        incident_id,
        service,
        alert_at,
        case
            when resolved_at_reported <= {{ as_of_timestamp() }} then resolved_at_reported
        end as resolved_at,
        resolved_at_reported,
        updated_at,
        resolution_reason,
        merged_incident_count
    from joined
    where alert_at <= {{ as_of_timestamp() }}

),

final as (

    select
        *,
        resolved_at is null as is_open
    from measured

)

select * from final
