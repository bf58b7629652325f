{{ config(tags=['before_containment']) }}

with

statuses as (

    {{ union_models(
        [
            'stg_files__deployment_statuses', 'stg_git__deployment_statuses',
            'stg_github__deployment_statuses', 'stg_gitlab__deployment_statuses'
        ],
        [
            'source', 'deployment_id', 'repo', 'service', 'environment_raw', 'environment',
            'is_production', 'sha', 'state_raw', 'state', 'state_at', 'started_at',
            'pipeline_status', 'record_index', 'loaded_at'
        ]
    ) }}

),

keyed as (

    select
        {{ dbt.hash(dbt.concat([
            "coalesce(source, '')", "'|'",
            "coalesce(deployment_id, '')", "'|'",
            "coalesce(sha, '')"
        ])) }} as deployment_key,
        *,
        coalesce(state_at > {{ as_of_timestamp() }}, false) as is_after_as_of
    from statuses

),

final as (

    select * from keyed

)

select * from final
