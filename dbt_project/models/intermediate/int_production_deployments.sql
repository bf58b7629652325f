{{ config(tags=['before_containment']) }}

with

deployments as (

    select * from {{ ref('int_deployments') }}

),

successes as (

    select
        deployment_key,
        source,
        deployment_id,
        repo,
        service,
        environment,
        sha,
        deployed_at
    from deployments
    where
        status = 'success'
        and is_production
        and deployed_at is not null

),

-- Position of each success on its (service, environment), and the first
-- position at which its sha went live there.
sequenced as (

    select
        *,
        row_number() over (
            partition by service, environment order by deployed_at, deployment_key
        ) as live_sequence,
        lag(sha) over (
            partition by service, environment order by deployed_at, deployment_key
        ) as previous_live_sha
    from successes

),

flagged as (

    select
        *,
        coalesce(sha = previous_live_sha, false) as is_redeploy,
        min(live_sequence) over (partition by service, environment, sha) as first_live_sequence
    from sequenced

),

counted as (

    select
        deployment_key,
        row_number() over (
            partition by service, environment order by deployed_at, deployment_key
        ) as counted_sequence,
        lag(deployment_key) over (
            partition by service, environment order by deployed_at, deployment_key
        ) as replaced_deployment_key
    from flagged
    where not is_redeploy

),

final as (

    select
        flagged.deployment_key,
        flagged.source,
        flagged.deployment_id,
        flagged.repo,
        flagged.service,
        flagged.environment,
        flagged.sha,
        flagged.deployed_at,
        {{ local_date('flagged.deployed_at') }} as deployed_date,
        flagged.previous_live_sha,
        flagged.is_redeploy,
        not flagged.is_redeploy as is_counted,
        (
            not flagged.is_redeploy
            and flagged.first_live_sequence < flagged.live_sequence
        ) as is_rollback,
        counted.replaced_deployment_key,
        counted.counted_sequence,
        coalesce(counted.counted_sequence = 1, false) as is_baseline
    from flagged
    left join counted
        on flagged.deployment_key = counted.deployment_key

)

select * from final
