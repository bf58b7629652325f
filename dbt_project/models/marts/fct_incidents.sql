with

incidents as (

    select * from {{ ref('int_incidents') }}

),

incident_links as (

    select * from {{ ref('int_incident_deployment_links') }}

),

link_summary as (

    select
        incident_key,
        count(*) as linked_deployment_count,
        {{ ordered_listagg('deployment_key', "','", 'order by deployment_key') }}
            as linked_deployment_keys,
        {{ ordered_listagg('link_method', "','", 'order by deployment_key') }} as link_methods
    from incident_links
    group by incident_key

),

-- An open incident counts up to as_of, so its restore time is never null.
final as (

    select
        incidents.incident_key,
        incidents.incident_id,
        incidents.source,
        incidents.service,
        incidents.alert_at,
        incidents.resolved_at,
        incidents.is_open,
        {{ seconds_between(
            'incidents.alert_at',
            'coalesce(incidents.resolved_at, ' ~ as_of_timestamp() ~ ')'
        ) }} as restore_seconds,
        {{ local_date('incidents.alert_at') }} as alert_date,
        incidents.resolution_reason,
        incidents.merged_incident_count,
        coalesce(link_summary.linked_deployment_count, 0) as linked_deployment_count,
        link_summary.linked_deployment_keys,
        link_summary.link_methods
    from incidents
    left join link_summary
        on incidents.incident_key = link_summary.incident_key

)

select * from final
