with

deployments as (

    select * from {{ ref('fct_deployments') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

change_commits as (

    select * from {{ ref('fct_change_commits') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

deployment_samples as (

    select
        'deployment' as sample_kind,
        deployment_key as sample_key,
        deployed_date as metric_date,
        service,
        is_cfr_eligible,
        is_failed,
        is_unplanned,
        case when is_failed then recovery_seconds end as recovery_seconds,
        cast(null as {{ type_double() }}) as pr_lead_time_seconds,
        cast(null as {{ type_double() }}) as commit_lead_time_seconds,
        cast(null as {{ type_double() }}) as restore_seconds,
        cast(null as boolean) as is_open
    from deployments
    where is_counted and deployed_at <= {{ as_of_timestamp() }}

),

-- Baseline shipments and negative durations (clock skew) are no samples.
pr_lead_time_samples as (

    select
        'pr_lead_time' as sample_kind,
        change_id as sample_key,
        deployed_date as metric_date,
        service,
        cast(null as boolean) as is_cfr_eligible,
        cast(null as boolean) as is_failed,
        cast(null as boolean) as is_unplanned,
        cast(null as {{ type_double() }}) as recovery_seconds,
        cast(pr_lead_time_seconds as {{ type_double() }}) as pr_lead_time_seconds,
        cast(null as {{ type_double() }}) as commit_lead_time_seconds,
        cast(null as {{ type_double() }}) as restore_seconds,
        cast(null as boolean) as is_open
    from changes
    where
        is_shipped
        and not is_baseline_shipment
        and not is_negative_lead_time
        and pr_lead_time_seconds is not null
        and deployed_at <= {{ as_of_timestamp() }}

),

commit_lead_time_samples as (

    select
        'commit_lead_time' as sample_kind,
        repo || ':' || sha as sample_key,
        deployed_date as metric_date,
        service,
        cast(null as boolean) as is_cfr_eligible,
        cast(null as boolean) as is_failed,
        cast(null as boolean) as is_unplanned,
        cast(null as {{ type_double() }}) as recovery_seconds,
        cast(null as {{ type_double() }}) as pr_lead_time_seconds,
        cast(commit_lead_time_seconds as {{ type_double() }}) as commit_lead_time_seconds,
        cast(null as {{ type_double() }}) as restore_seconds,
        cast(null as boolean) as is_open
    from change_commits
    where
        deployment_key is not null
        and not is_baseline_shipment
        and not is_negative_lead_time
        and commit_lead_time_seconds is not null
        and deployed_at <= {{ as_of_timestamp() }}

),

incident_samples as (

    select
        'incident' as sample_kind,
        incident_key as sample_key,
        alert_date as metric_date,
        service,
        cast(null as boolean) as is_cfr_eligible,
        cast(null as boolean) as is_failed,
        cast(null as boolean) as is_unplanned,
        cast(null as {{ type_double() }}) as recovery_seconds,
        cast(null as {{ type_double() }}) as pr_lead_time_seconds,
        cast(null as {{ type_double() }}) as commit_lead_time_seconds,
        cast(restore_seconds as {{ type_double() }}) as restore_seconds,
        is_open
    from incidents

),

per_service as (

    select * from deployment_samples
    union all
    select * from pr_lead_time_samples
    union all
    select * from commit_lead_time_samples
    union all
    select * from incident_samples

),

-- Each sample also counts once in the all-services slice, so its medians
-- are taken over all samples, never over per-service medians.
final as (

    select
        *,
        service as sample_service,
        false as is_all_services
    from per_service

    union all

    select
        sample_kind,
        sample_key,
        metric_date,
        '__all__' as service,
        is_cfr_eligible,
        is_failed,
        is_unplanned,
        recovery_seconds,
        pr_lead_time_seconds,
        commit_lead_time_seconds,
        restore_seconds,
        is_open,
        service as sample_service,
        true as is_all_services
    from per_service

)

select * from final
