{%- set within_hours = var('latest_deployment_within_hours', none) %}
{#- With the rule off, no deployment is within range. -#}
{%- set within_seconds = 'null' if within_hours is none else (within_hours | float) * 3600 %}

with

incidents as (

    select * from {{ ref('int_incidents') }}

),

incident_records as (

    select * from {{ ref('int_incidents__records') }}

),

deployments as (

    select * from {{ ref('int_deployments') }}

),

production_deployments as (

    select * from {{ ref('int_production_deployments') }}

),

commit_deployments as (

    select * from {{ source('pipeline', 'containment__commit_deployments') }}

),

counted_deployments as (

    select
        production_deployments.deployment_key,
        production_deployments.service,
        production_deployments.deployed_at,
        deployments.deployment_id
    from production_deployments
    inner join deployments
        on production_deployments.deployment_key = deployments.deployment_key
    where production_deployments.is_counted

),

-- Every record of a merged group brings its own links to the group.
members as (

    select
        incident_records.incident_key,
        incident_records.caused_by_deployment_id,
        incident_records.root_cause_sha,
        incidents.service,
        incidents.alert_at
    from incident_records
    inner join incidents
        on incident_records.incident_key = incidents.incident_key

),

-- An id that moved to another sha names several deployments: the latest one
-- live at the alert is meant, else the earliest.
explicit_candidates as (

    select
        members.incident_key,
        counted_deployments.deployment_key,
        row_number() over (
            partition by members.incident_key, members.caused_by_deployment_id
            order by
                case when counted_deployments.deployed_at <= members.alert_at then 0 else 1 end,
                case
                    when counted_deployments.deployed_at <= members.alert_at
                        then counted_deployments.deployed_at
                end desc,
                counted_deployments.deployed_at
        ) as candidate_rank
    from members
    inner join counted_deployments
        on members.caused_by_deployment_id = counted_deployments.deployment_id

),

explicit_links as (

    select
        incident_key,
        deployment_key,
        'explicit_deployment_id' as link_method,
        1 as method_priority
    from explicit_candidates
    where candidate_rank = 1

),

root_cause_members as (

    select
        incident_key,
        root_cause_sha,
        service,
        {{ sha_prefix('root_cause_sha') }} as root_cause_prefix,
        {{ has_full_sha_prefix('root_cause_sha') }} as has_full_prefix
    from members
    where root_cause_sha is not null and root_cause_sha != ''

),

shipment_prefixes as (

    select
        *,
        {{ sha_prefix('sha') }} as sha_prefix
    from commit_deployments

),

-- The root-cause sha may be abbreviated: it matches as a prefix. The join
-- matches on sha_prefix (macros/text.sql) first. A sha shorter than that
-- prefix is compared with every shipment of the service.
root_cause_shipments as (

    select
        root_cause_members.incident_key,
        root_cause_members.root_cause_sha,
        shipment_prefixes.deployment_key
    from root_cause_members
    inner join shipment_prefixes
        on
            root_cause_members.service = shipment_prefixes.service
            and root_cause_members.root_cause_prefix = shipment_prefixes.sha_prefix
    where
        root_cause_members.has_full_prefix
        and {{ dbt.position('root_cause_members.root_cause_sha', 'shipment_prefixes.sha') }} = 1

    union all

    select
        root_cause_members.incident_key,
        root_cause_members.root_cause_sha,
        commit_deployments.deployment_key
    from root_cause_members
    inner join commit_deployments
        on root_cause_members.service = commit_deployments.service
    where
        not root_cause_members.has_full_prefix
        and {{ dbt.position('root_cause_members.root_cause_sha', 'commit_deployments.sha') }} = 1

),

root_cause_candidates as (

    select
        root_cause_shipments.incident_key,
        counted_deployments.deployment_key,
        row_number() over (
            partition by root_cause_shipments.incident_key, root_cause_shipments.root_cause_sha
            order by counted_deployments.deployed_at, counted_deployments.deployment_key
        ) as candidate_rank
    from root_cause_shipments
    inner join counted_deployments
        on root_cause_shipments.deployment_key = counted_deployments.deployment_key

),

root_cause_links as (

    select
        incident_key,
        deployment_key,
        'root_cause_sha' as link_method,
        2 as method_priority
    from root_cause_candidates
    where candidate_rank = 1

),

rule_links as (

    select * from explicit_links
    union all
    select * from root_cause_links

),

-- Attribution rule, off unless latest_deployment_within_hours is set: an
-- incident with no other link goes to the latest counted deployment of its
-- service that finished within that many hours before the alert.
window_candidates as (

    select
        incidents.incident_key,
        counted_deployments.deployment_key,
        row_number() over (
            partition by incidents.incident_key
            order by counted_deployments.deployed_at desc, counted_deployments.deployment_key desc
        ) as candidate_rank
    from incidents
    inner join counted_deployments
        on
            incidents.service = counted_deployments.service
            and incidents.alert_at >= counted_deployments.deployed_at
            and {{ seconds_between('counted_deployments.deployed_at', 'incidents.alert_at') }}
            <= {{ within_seconds }}
    where incidents.incident_key not in (select rule_links.incident_key from rule_links)

),

window_links as (

    select
        incident_key,
        deployment_key,
        'latest_deployment_within' as link_method,
        3 as method_priority
    from window_candidates
    where candidate_rank = 1

),

all_links as (

    select * from rule_links
    union all
    select * from window_links

),

-- One row per (incident, deployment): the strongest method names the link.
ranked_links as (

    select
        *,
        row_number() over (
            partition by incident_key, deployment_key order by method_priority
        ) as method_rank
    from all_links

),

final as (

    select
        incident_key,
        deployment_key,
        link_method
    from ranked_links
    where method_rank = 1

)

select * from final
