with

production_deployments as (

    select * from {{ ref('int_production_deployments') }}

),

changes as (

    select * from {{ ref('int_changes') }}

),

commits as (

    select * from {{ ref('int_commits') }}

),

commit_deployments as (

    select * from {{ source('pipeline', 'containment__commit_deployments') }}

),

incidents as (

    select * from {{ ref('int_incidents') }}

),

incident_links as (

    select * from {{ ref('int_incident_deployment_links') }}

),

counted as (

    select
        deployment_key,
        repo,
        service,
        environment,
        deployed_at,
        is_rollback,
        replaced_deployment_key,
        lead(deployment_key) over (
            partition by service, environment order by deployed_at, deployment_key
        ) as next_deployment_key,
        lead(deployed_at) over (
            partition by service, environment order by deployed_at, deployment_key
        ) as next_deployed_at
    from production_deployments
    where is_counted

),

-- Several incidents on one deployment make one failure. It recovers when
-- the last of them is resolved, so one open incident leaves it unrecovered.
incident_failures as (

    select
        incident_links.deployment_key,
        'incident' as failure_reason,
        cast(null as {{ dbt.type_string() }}) as restoring_deployment_key,
        case when bool_and(not incidents.is_open) then max(incidents.resolved_at) end
            as recovered_at,
        count(*) as incident_count
    from incident_links
    inner join incidents
        on incident_links.incident_key = incidents.incident_key
    group by incident_links.deployment_key

),

rollback_failures as (

    select
        replaced_deployment_key as deployment_key,
        'rollback' as failure_reason,
        deployment_key as restoring_deployment_key,
        deployed_at as recovered_at,
        0 as incident_count
    from counted
    where is_rollback and replaced_deployment_key is not null

),

hotfix_deployments as (

    select distinct shipped_by_deployment_key as deployment_key
    from changes
    where is_hotfix and shipped_by_deployment_key is not null

),

hotfix_failures as (

    select
        counted.deployment_key,
        'hotfix' as failure_reason,
        counted.next_deployment_key as restoring_deployment_key,
        counted.next_deployed_at as recovered_at,
        0 as incident_count
    from counted
    inner join hotfix_deployments
        on counted.next_deployment_key = hotfix_deployments.deployment_key
    where
        {{ seconds_between('counted.deployed_at', 'counted.next_deployed_at') }}
        <= {{ var('hotfix_window_hours', 24) }} * 3600

),

revert_commits as (

    select
        repo,
        sha,
        reverted_sha
    from commits
    where reverted_sha is not null and reverted_sha != ''

),

-- A revert commit's shipments, and the prefix of the sha it reverts that the
-- join below matches on (sha_prefix in macros/text.sql).
revert_shipments as (

    select
        revert_commits.repo,
        revert_commits.reverted_sha,
        {{ sha_prefix('revert_commits.reverted_sha') }} as reverted_prefix,
        {{ has_full_sha_prefix('revert_commits.reverted_sha') }} as has_full_prefix,
        commit_deployments.service,
        commit_deployments.deployment_key
    from revert_commits
    inner join commit_deployments
        on
            revert_commits.repo = commit_deployments.repo
            and revert_commits.sha = commit_deployments.sha

),

shipment_prefixes as (

    select
        *,
        {{ sha_prefix('sha') }} as sha_prefix
    from commit_deployments

),

-- The reverted sha may be abbreviated: it matches as a prefix. A sha shorter
-- than the sha prefix is compared with every shipment of the service. A
-- revert shipped by the same deployment as the commit it reverts fails nothing.
revert_pairs as (

    select
        reverted_shipments.deployment_key,
        revert_shipments.deployment_key as restoring_deployment_key
    from revert_shipments
    inner join shipment_prefixes as reverted_shipments
        on
            revert_shipments.repo = reverted_shipments.repo
            and revert_shipments.service = reverted_shipments.service
            and revert_shipments.reverted_prefix = reverted_shipments.sha_prefix
    where
        revert_shipments.has_full_prefix
        and {{ dbt.position('revert_shipments.reverted_sha', 'reverted_shipments.sha') }} = 1
        and revert_shipments.deployment_key != reverted_shipments.deployment_key

    union all

    select
        reverted_shipments.deployment_key,
        revert_shipments.deployment_key as restoring_deployment_key
    from revert_shipments
    inner join commit_deployments as reverted_shipments
        on
            revert_shipments.repo = reverted_shipments.repo
            and revert_shipments.service = reverted_shipments.service
    where
        not revert_shipments.has_full_prefix
        and {{ dbt.position('revert_shipments.reverted_sha', 'reverted_shipments.sha') }} = 1
        and revert_shipments.deployment_key != reverted_shipments.deployment_key

),

ranked_reverts as (

    select
        revert_pairs.deployment_key,
        restoring.deployment_key as restoring_deployment_key,
        restoring.deployed_at as recovered_at,
        row_number() over (
            partition by revert_pairs.deployment_key
            order by restoring.deployed_at, restoring.deployment_key
        ) as restoring_rank
    from revert_pairs
    inner join counted as failed
        on revert_pairs.deployment_key = failed.deployment_key
    inner join counted as restoring
        on revert_pairs.restoring_deployment_key = restoring.deployment_key
    where restoring.deployed_at > failed.deployed_at

),

revert_failures as (

    select
        deployment_key,
        'revert' as failure_reason,
        restoring_deployment_key,
        recovered_at,
        0 as incident_count
    from ranked_reverts
    where restoring_rank = 1

),

final as (

    select * from incident_failures
    union all
    select * from rollback_failures
    union all
    select * from hotfix_failures
    union all
    select * from revert_failures

)

select * from final
