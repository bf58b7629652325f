{#-
    The raw tables exist once the GitHub assets have run on this warehouse.
    Until then this view is empty, so the models that union it still build.
-#}
{%- set statuses_table = source('github', 'raw_github__deployment_statuses') -%}
{%- set runs_table = source('github', 'raw_github__workflow_runs') -%}
{%- set raw_exists = execute
    and load_relation(statuses_table) is not none
    and load_relation(runs_table) is not none -%}

with

deployment_statuses as (

    {% if raw_exists -%}
        select * from {{ statuses_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as deployment_id,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as service,
            cast(null as {{ dbt.type_string() }}) as environment,
            cast(null as boolean) as is_production_environment,
            cast(null as {{ dbt.type_string() }}) as sha,
            cast(null as {{ dbt.type_string() }}) as state,
            cast(null as {{ type_timestamptz() }}) as state_at,
            cast(null as {{ type_timestamptz() }}) as started_at,
            cast(null as integer) as record_index,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
        where false
    {%- endif %}

),

workflow_runs as (

    {% if raw_exists -%}
        select * from {{ runs_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as service,
            cast(null as {{ dbt.type_string() }}) as environment,
            cast(null as {{ dbt.type_string() }}) as sha,
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as {{ dbt.type_string() }}) as conclusion,
            cast(null as {{ type_timestamptz() }}) as started_at,
            cast(null as {{ type_timestamptz() }}) as completed_at,
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

status_records as (

    select
        _source as source,
        deployment_id,
        repo,
        service,
        environment as environment_raw,
        {{ normalize_name('environment') }} as environment_normalized,
        coalesce(is_production_environment, false) as is_production_environment,
        lower(trim(sha)) as sha,
        state as state_raw,
        {{ canonical_state('state') }} as state,
        state_at,
        started_at,
        cast(null as {{ dbt.type_string() }}) as pipeline_status,
        record_index,
        _loaded_at as loaded_at
    from deployment_statuses

),

-- A run of the deployment workflow is one deployment attempt. GitHub Actions
-- conclusions map to the canonical states; a run without one is in progress.
run_records as (

    select
        _source as source,
        {{ dbt.concat(["'run:'", "run_id"]) }} as deployment_id,
        repo,
        service,
        environment as environment_raw,
        {{ normalize_name('environment') }} as environment_normalized,
        false as is_production_environment,
        lower(trim(sha)) as sha,
        coalesce(conclusion, status) as state_raw,
        case
            when conclusion = 'success' then 'success'
            when conclusion in ('failure', 'timed_out', 'startup_failure') then 'failure'
            when conclusion in ('cancelled', 'skipped', 'stale') then 'cancelled'
            when conclusion is null or conclusion = 'action_required' then 'in_progress'
            else 'unknown'
        end as state,
        completed_at as state_at,
        started_at,
        status as pipeline_status,
        0 as record_index,
        _loaded_at as loaded_at
    from workflow_runs

),

records as (

    select * from status_records
    union all
    select * from run_records

),

-- GitHub's production_environment flag makes an environment production
-- whatever its name; other names go through the exact alias lookup.
normalized as (

    select
        records.source,
        records.deployment_id,
        records.repo,
        records.service,
        records.environment_raw,
        case
            when records.is_production_environment then 'production'
            else coalesce(mapping.environment, records.environment_normalized)
        end as environment,
        coalesce(
            records.is_production_environment
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
