with

deployments as (

    select * from {{ ref('fct_deployments') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

service_teams as (

    select * from {{ ref('service_teams') }}

),

deployment_services as (

    select
        service,
        {{ ordered_listagg('distinct repo', "','", 'order by repo') }} as repos,
        min(case when is_baseline then deployed_at end) as first_deployed_at,
        max(case when is_counted then deployed_at end) as last_deployed_at,
        count(*) as deployment_count,
        count(case when is_counted then 1 end) as counted_deployment_count
    from deployments
    group by service

),

incident_services as (

    select
        service,
        count(*) as incident_count
    from incidents
    group by service

),

services as (

    select service from deployment_services
    union
    select service from incident_services

),

final as (

    select
        services.service,
        deployment_services.repos,
        deployment_services.first_deployed_at,
        deployment_services.last_deployed_at,
        coalesce(service_teams.team, 'unassigned') as team,
        coalesce(deployment_services.deployment_count, 0) as deployment_count,
        coalesce(deployment_services.counted_deployment_count, 0) as counted_deployment_count,
        coalesce(incident_services.incident_count, 0) as incident_count
    from services
    left join deployment_services
        on services.service = deployment_services.service
    left join incident_services
        on services.service = incident_services.service
    left join service_teams
        on services.service = service_teams.service

)

select * from final
