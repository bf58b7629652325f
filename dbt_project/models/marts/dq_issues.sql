with

deployments as (

    select * from {{ ref('fct_deployments') }}

),

changes as (

    select * from {{ ref('int_changes') }}

),

change_commits as (

    select * from {{ ref('fct_change_commits') }}

),

commits as (

    select * from {{ ref('int_commits') }}

),

incomplete_compares as (

    select * from {{ ref('int_incomplete_compares') }}

),

environment_aliases as (

    {{ environment_aliases() }}

),

negative_pr_lead_times as (

    select
        'negative_lead_time' as issue_type,
        'warning' as severity,
        service,
        change_id as entity_key,
        'pull request lead time is negative (clock skew?): left out of the median' as detail,
        cast(pr_lead_time_seconds as {{ type_double() }}) as observed_value,
        deployed_at as observed_at
    from changes
    where is_negative_lead_time

),

negative_commit_lead_times as (

    select
        'negative_commit_lead_time' as issue_type,
        'warning' as severity,
        service,
        repo || ':' || sha as entity_key,
        'commit authored after the deployment that shipped it (clock skew?): left out of the median'
            as detail,
        cast(commit_lead_time_seconds as {{ type_double() }}) as observed_value,
        deployed_at as observed_at
    from change_commits
    where is_negative_lead_time

),

moved_ids as (

    select
        'deployment_id_moved' as issue_type,
        'warning' as severity,
        min(service) as service,
        source || ':' || deployment_id as entity_key,
        'deployment id names several shas ('
        || {{ ordered_listagg('distinct sha', "', '", 'order by sha') }}
        || '): each sha is its own deployment' as detail,
        cast(count(distinct sha) as {{ type_double() }}) as observed_value,
        max(started_at) as observed_at
    from deployments
    where is_id_moved
    group by source, deployment_id

),

unmapped_environments as (

    select
        'unmapped_environment' as issue_type,
        'info' as severity,
        cast(null as {{ dbt.type_string() }}) as service,
        environment as entity_key,
        'environment name is not mapped to production: its deployments count as non-production'
            as detail,
        cast(count(*) as {{ type_double() }}) as observed_value,
        max(started_at) as observed_at
    from deployments
    where
        environment not in (select environment_aliases.alias from environment_aliases)
        and environment not in (select environment_aliases.environment from environment_aliases)
    group by environment

),

unknown_shas as (

    select
        'deployed_sha_not_in_commit_graph' as issue_type,
        'warning' as severity,
        deployments.service,
        deployments.deployment_key as entity_key,
        'deployed sha ' || deployments.sha || ' is not in the commit graph of repo '
        || deployments.repo || ': the deployment ships no known commit' as detail,
        cast(null as {{ type_double() }}) as observed_value,
        deployments.deployed_at as observed_at
    from deployments
    left join commits
        on
            deployments.repo = commits.repo
            and deployments.sha = commits.sha
    where
        deployments.is_production
        and deployments.status = 'success'
        and commits.sha is null

),

unshipped_changes as (

    select
        'unshipped_change' as issue_type,
        'info' as severity,
        service,
        change_id as entity_key,
        'change not shipped to this service yet: kept out of the lead-time median' as detail,
        cast(age_seconds as {{ type_double() }}) as observed_value,
        merged_at as observed_at
    from changes
    where not is_shipped

),

-- A cut listing that the commit graph cannot complete is never measured
-- silently: the deployment of head_sha may ship commits no source holds.
uncompleted_compares as (

    select
        'incomplete_compare' as issue_type,
        'warning' as severity,
        cast(null as {{ dbt.type_string() }}) as service,
        source || ':' || base_sha || '...' || head_sha as entity_key,
        'compare listing of repo ' || repo || ' was cut short after '
        || cast(listed_commits as {{ dbt.type_string() }})
        || coalesce(' of ' || cast(total_commits as {{ dbt.type_string() }}), '')
        || ' commits, and the commit graph cannot complete it: the deployment of '
        || head_sha || ' may ship commits that no source holds' as detail,
        cast(total_commits - listed_commits as {{ type_double() }}) as observed_value,
        cast(null as {{ type_timestamptz() }}) as observed_at
    from incomplete_compares
    where not is_completed_from_graph

),

final as (

    select * from negative_pr_lead_times
    union all
    select * from negative_commit_lead_times
    union all
    select * from moved_ids
    union all
    select * from unmapped_environments
    union all
    select * from unknown_shas
    union all
    select * from unshipped_changes
    union all
    select * from uncompleted_compares

)

select * from final
