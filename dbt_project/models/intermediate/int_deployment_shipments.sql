with

production_deployments as (

    select * from {{ ref('int_production_deployments') }}

),

containment as (

    select * from {{ source('pipeline', 'containment__commit_deployments') }}

),

commits as (

    select * from {{ ref('int_commits') }}

),

counted as (

    select * from production_deployments
    where is_counted

),

-- In a repo with `paths`, a deployment ships only the commits that touch
-- its service's folders; a commit with no file list counts for every service.
shipped_counts as (

    select
        containment.deployment_key,
        count(*) as shipped_commit_count
    from containment
    left join commits
        on
            containment.repo = commits.repo
            and containment.sha = commits.sha
    where
        commits.changed_services is null
        or commits.changed_services
        like {{ dbt.concat(["'%\"'", "containment.service", "'\"%'"]) }}
    group by containment.deployment_key

),

joined as (

    select
        counted.deployment_key,
        counted.repo,
        counted.service,
        counted.environment,
        counted.sha,
        counted.deployed_at,
        counted.deployed_date,
        counted.is_baseline,
        counted.is_rollback,
        coalesce(shipped_counts.shipped_commit_count, 0) as shipped_commit_count,
        commits.sha is not null as is_sha_known
    from counted
    left join shipped_counts
        on counted.deployment_key = shipped_counts.deployment_key
    left join commits
        on
            counted.repo = commits.repo
            and counted.sha = commits.sha

),

-- A deployed sha missing from the commit graph cannot be walked: unless it
-- is a rollback it is assumed to ship something new.
final as (

    select
        *,
        (
            shipped_commit_count > 0
            or (not is_sha_known and not is_rollback)
        ) as ships_new_commits,
        (
            is_baseline
            or (
                not is_rollback
                and (shipped_commit_count > 0 or not is_sha_known)
            )
        ) as is_cfr_eligible
    from joined

)

select * from final
