{#-
    The raw tables exist once the GitLab assets have run on this warehouse.
    Until then this view is empty, so the models that union it still build.
-#}
{%- set deployments_table = source('gitlab', 'raw_gitlab__deployment_statuses') -%}
{%- set pipelines_table = source('gitlab', 'raw_gitlab__pipelines') -%}
{%- set raw_exists = execute
    and load_relation(deployments_table) is not none
    and load_relation(pipelines_table) is not none -%}

with

deployments as (

    {% if raw_exists -%}
        select * from {{ deployments_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as deployment_id,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as service,
            cast(null as {{ dbt.type_string() }}) as environment,
            cast(null as {{ dbt.type_string() }}) as environment_tier,
            cast(null as {{ dbt.type_string() }}) as sha,
            cast(null as {{ dbt.type_string() }}) as state,
            cast(null as {{ type_timestamptz() }}) as state_at,
            cast(null as {{ type_timestamptz() }}) as started_at,
            cast(null as {{ dbt.type_string() }}) as pipeline_status,
            cast(null as integer) as record_index,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
        where false
    {%- endif %}

),

pipelines as (

    {% if raw_exists -%}
        select * from {{ pipelines_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as pipeline_id,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as service,
            cast(null as {{ dbt.type_string() }}) as environment,
            cast(null as {{ dbt.type_string() }}) as sha,
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as {{ type_timestamptz() }}) as started_at,
            cast(null as {{ type_timestamptz() }}) as finished_at,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
        where false
    {%- endif %}

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

deployment_records as (

    select
        _source as source,
        deployment_id,
        repo,
        service,
        environment as environment_raw,
        {{ normalize_name('environment') }} as environment_normalized,
        coalesce(environment_tier = 'production', false) as is_production_tier,
        lower(trim(sha)) as sha,
        state as state_raw,
        {{ canonical_state('state') }} as state,
        state_at,
        started_at,
        pipeline_status,
        record_index,
        _loaded_at as loaded_at
    from deployments

),

-- A pipeline of the deploy ref is one deployment attempt; its status is its own.
pipeline_records as (

    select
        _source as source,
        {{ dbt.concat(["'pipeline:'", "pipeline_id"]) }} as deployment_id,
        repo,
        service,
        environment as environment_raw,
        {{ normalize_name('environment') }} as environment_normalized,
        false as is_production_tier,
        lower(trim(sha)) as sha,
        status as state_raw,
        {{ canonical_state('status') }} as state,
        finished_at as state_at,
        started_at,
        status as pipeline_status,
        0 as record_index,
        _loaded_at as loaded_at
    from pipelines

),

records as (

    select * from deployment_records
    union all
    select * from pipeline_records

),

-- GitLab's environment tier `production` makes an environment production
-- whatever its name; other names go through the exact alias lookup.
normalized as (

    select
        records.source,
        records.deployment_id,
        records.repo,
        records.service,
        records.environment_raw,
        case
            when records.is_production_tier then 'production'
            else coalesce(mapping.environment, records.environment_normalized)
        end as environment,
        coalesce(
            records.is_production_tier
            or coalesce(mapping.environment, records.environment_normalized) = 'production',
            false
        ) as is_production,
        records.sha,
        records.state_raw,
        records.state,
        records.state_at,
        records.started_at,
        records.pipeline_status,
        records.record_index,
        records.loaded_at
    from records
    left join mapping
        on records.environment_normalized = mapping.alias

),

final as (

    select * from normalized

)

select * from final
