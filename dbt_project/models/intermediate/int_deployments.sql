{{ config(tags=['before_containment']) }}

with

events as (

    select * from {{ ref('int_deployment_status_events') }}
    -- A record after the measurement time has not happened yet.
    where not is_after_as_of

),

-- Records are ordered by their own time; records without a time come first.
-- At the same instant a result (success, failure, cancelled) sorts after
-- in_progress, then the source position breaks the tie.
ordered as (

    select
        *,
        row_number() over (
            partition by deployment_key
            order by
                state_at asc nulls first,
                case when state in ('success', 'failure', 'cancelled') then 1 else 0 end asc,
                record_index asc,
                loaded_at asc
        ) as event_order
    from events

),

latest_result as (

    select
        deployment_key,
        max(event_order) as event_order
    from ordered
    where state != 'inactive'
    group by deployment_key

),

latest_record as (

    select
        deployment_key,
        max(event_order) as event_order
    from ordered
    group by deployment_key

),

aggregated as (

    select
        deployment_key,
        source,
        deployment_id,
        sha,
        min(started_at) as first_started_at,
        min(state_at) as first_state_at,
        min(case when state = 'success' then state_at end) as deployed_at,
        count(*) as status_record_count
    from ordered
    group by deployment_key, source, deployment_id, sha

),

moved_ids as (

    select
        source,
        deployment_id,
        count(distinct sha) > 1 as is_id_moved
    from aggregated
    group by source, deployment_id

),

final as (

    select
        aggregated.deployment_key,
        aggregated.source,
        aggregated.deployment_id,
        aggregated.sha,
        last_record.repo,
        last_record.service,
        last_record.environment_raw,
        last_record.environment,
        last_record.is_production,
        coalesce(result_record.state, 'inactive') as status,
        coalesce(aggregated.first_started_at, aggregated.first_state_at) as started_at,
        aggregated.deployed_at,
        last_record.pipeline_status,
        moved_ids.is_id_moved,
        aggregated.status_record_count
    from aggregated
    inner join latest_record
        on aggregated.deployment_key = latest_record.deployment_key
    inner join ordered as last_record
        on
            latest_record.deployment_key = last_record.deployment_key
            and latest_record.event_order = last_record.event_order
    left join latest_result
        on aggregated.deployment_key = latest_result.deployment_key
    left join ordered as result_record
        on
            latest_result.deployment_key = result_record.deployment_key
            and latest_result.event_order = result_record.event_order
    inner join moved_ids
        on
            aggregated.source = moved_ids.source
            and aggregated.deployment_id = moved_ids.deployment_id

)

select * from final
