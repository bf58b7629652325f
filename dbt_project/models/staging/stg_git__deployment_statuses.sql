with

source as (

    select * from {{ source('raw', 'raw_git__deployment_statuses') }}

),

aliases as (

    {{ environment_aliases() }}

),

-- One canonical name per alias: configured entries win over the defaults.
ranked_aliases as (

    select
        alias,
        environment,
        row_number() over (partition by alias order by priority desc) as alias_rank
    from aliases

),

mapping as (

    select
        alias,
        environment
    from ranked_aliases
    where alias_rank = 1

),

renamed as (

    select
        _source as source,
        deployment_id,
        coalesce(nullif(trim(repo), ''), 'default') as repo,
        service,
        environment as environment_raw,
        {{ normalize_name('environment') }} as environment_normalized,
        trim(sha) as sha,
        state as state_raw,
        {{ canonical_state('state') }} as state,
        state_at,
        started_at,
        pipeline_status,
        record_index,
        _loaded_at as loaded_at

    from source

),

-- Exact lookup only: an unmapped name keeps its normalised text.
normalized as (

    select
        renamed.source,
        renamed.deployment_id,
        renamed.repo,
        renamed.service,
        renamed.environment_raw,
        coalesce(mapping.environment, renamed.environment_normalized) as environment,
        coalesce(
            coalesce(mapping.environment, renamed.environment_normalized) = 'production', false
        ) as is_production,
        renamed.sha,
        renamed.state_raw,
        renamed.state,
        renamed.state_at,
        renamed.started_at,
        renamed.pipeline_status,
        renamed.record_index,
        renamed.loaded_at

    from renamed
    left join mapping
        on renamed.environment_normalized = mapping.alias

),

final as (

    select * from normalized

)

select * from final
