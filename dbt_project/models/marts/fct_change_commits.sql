with

containment as (

    select * from {{ source('pipeline', 'containment__commit_deployments') }}

),

commits as (

    select * from {{ ref('int_commits') }}

),

production_deployments as (

    select * from {{ ref('int_production_deployments') }}

),

members as (

    select * from {{ ref('int_change_members') }}

),

-- A commit listed in several changes keeps one: its pull request first, then
-- the smallest change_id. Aggregates pick it, because a window over every
-- member is slower on DuckDB.
commit_changes as (

    select
        repo,
        sha,
        coalesce(
            min(case when pr_number is not null then change_id end),
            min(change_id)
        ) as change_id
    from members
    group by repo, sha

),

shipped as (

    select
        containment.repo,
        containment.sha,
        containment.service,
        commits.authored_at,
        production_deployments.deployment_key,
        production_deployments.deployed_at,
        production_deployments.deployed_date,
        production_deployments.is_baseline as is_baseline_shipment
    from containment
    inner join commits
        on
            containment.repo = commits.repo
            and containment.sha = commits.sha
    inner join production_deployments
        on containment.deployment_key = production_deployments.deployment_key
    where
        not commits.is_merge
        and (
            commits.changed_services is null
            or commits.changed_services
            like {{ dbt.concat(["'%\"'", "containment.service", "'\"%'"]) }}
        )

),

measured as (

    select
        shipped.*,
        commit_changes.change_id,
        case
            when not shipped.is_baseline_shipment
                then {{ seconds_between('shipped.authored_at', 'shipped.deployed_at') }}
        end as commit_lead_time_seconds
    from shipped
    left join commit_changes
        on
            shipped.repo = commit_changes.repo
            and shipped.sha = commit_changes.sha

),

final as (

    select
        {{ dbt.concat(["repo", "'|'", "sha", "'|'", "service"]) }} as commit_service_key,
        repo,
        sha,
        service,
        change_id,
        authored_at,
        deployment_key,
        deployed_at,
        deployed_date,
        is_baseline_shipment,
        commit_lead_time_seconds,
        coalesce(commit_lead_time_seconds < 0, false) as is_negative_lead_time
    from measured

)

select * from final
