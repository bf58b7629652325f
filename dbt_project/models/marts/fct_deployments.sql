with

deployments as (

    select * from {{ ref('int_deployments') }}

),

production_deployments as (

    select * from {{ ref('int_production_deployments') }}

),

shipments as (

    select * from {{ ref('int_deployment_shipments') }}

),

failures as (

    select * from {{ ref('int_deployment_failures') }}

),

changes as (

    select * from {{ ref('int_changes') }}

),

failure_summary as (

    select
        deployment_key,
        {{ ordered_listagg('failure_reason', "','", 'order by failure_reason') }}
            as failure_reasons,
        sum(incident_count) as incident_count,
        max(case when failure_reason = 'incident' then recovered_at end)
            as incidents_resolved_at,
        bool_or(failure_reason = 'incident' and recovered_at is null) as has_open_incident,
        min(case when restoring_deployment_key is not null then recovered_at end)
            as restored_at
    from failures
    group by deployment_key

),

-- The first deployment that restored service (rollback, hotfix or revert).
ranked_restorations as (

    select
        deployment_key,
        restoring_deployment_key,
        row_number() over (
            partition by deployment_key order by recovered_at, restoring_deployment_key
        ) as restoration_rank
    from failures
    where restoring_deployment_key is not null

),

hotfix_deployments as (

    select distinct shipped_by_deployment_key as deployment_key
    from changes
    where is_hotfix and shipped_by_deployment_key is not null

),

joined as (

    select
        deployments.*,
        production_deployments.previous_live_sha,
        production_deployments.replaced_deployment_key,
        failure_summary.failure_reasons,
        ranked_restorations.restoring_deployment_key,
        failure_summary.incidents_resolved_at,
        coalesce(production_deployments.is_counted, false) as is_counted,
        coalesce(production_deployments.is_redeploy, false) as is_redeploy,
        coalesce(production_deployments.is_rollback, false) as is_rollback,
        coalesce(production_deployments.is_baseline, false) as is_baseline,
        coalesce(shipments.shipped_commit_count, 0) as shipped_commit_count,
        coalesce(shipments.ships_new_commits, false) as ships_new_commits,
        coalesce(shipments.is_cfr_eligible, false) as is_cfr_eligible,
        failure_summary.deployment_key is not null as is_failed,
        coalesce(failure_summary.incident_count, 0) as incident_count,
        coalesce(production_deployments.is_counted, false)
        and hotfix_deployments.deployment_key is not null as is_hotfix_deployment,
        case
            when failure_summary.restored_at is not null then failure_summary.restored_at
            when not failure_summary.has_open_incident then failure_summary.incidents_resolved_at
        end as recovered_at
    from deployments
    left join production_deployments
        on deployments.deployment_key = production_deployments.deployment_key
    left join shipments
        on deployments.deployment_key = shipments.deployment_key
    left join failure_summary
        on deployments.deployment_key = failure_summary.deployment_key
    left join ranked_restorations
        on
            deployments.deployment_key = ranked_restorations.deployment_key
            and ranked_restorations.restoration_rank = 1
    left join hotfix_deployments
        on deployments.deployment_key = hotfix_deployments.deployment_key

),

final as (

    select
        *,
        is_counted and (is_rollback or is_hotfix_deployment) as is_unplanned,
        {{ seconds_between('deployed_at', 'recovered_at') }} as recovery_seconds,
        {{ local_date('deployed_at') }} as deployed_date
    from joined

)

select * from final
