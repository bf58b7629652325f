-- Incident sources. Each staging model here has the columns of
-- stg_files__incidents; add a new incident source to this list.
{%- set incident_models = [
    'stg_files__incidents',
    'stg_pagerduty__incidents',
    'stg_opsgenie__incidents',
    'stg_statuspage__incidents',
    'stg_github__incidents',
    'stg_gitlab__incidents',
] %}

with recursive

incident_records as (

    {{ union_models(incident_models, [
        'source', 'incident_id', 'service', 'alert_at', 'resolved_at', 'updated_at',
        'caused_by_deployment_id', 'root_cause_sha', 'merged_into', 'resolution_reason',
        'is_production', 'record_index'
    ]) }}

),

-- The latest update of each incident wins.
ranked_records as (

    select
        *,
        row_number() over (
            partition by source, incident_id
            order by
                updated_at desc nulls last,
                resolved_at desc nulls last,
                alert_at desc nulls last,
                record_index desc nulls last
        ) as update_rank
    from incident_records

),

latest_records as (

    select
        source,
        incident_id,
        service,
        alert_at,
        resolved_at,
        updated_at,
        caused_by_deployment_id,
        root_cause_sha,
        resolution_reason,
        is_production,
        nullif(trim(merged_into), '') as merged_into
    from ranked_records
    where update_rank = 1 and is_production

),

-- Follows merged_into to the end of the chain. A target that is not among
-- the production incidents ends the chain, so the incident stays its own.
-- The depth limit stops a cycle of merges.
merge_chains as (

    select
        source,
        incident_id,
        incident_id as root_incident_id,
        0 as chain_depth
    from latest_records

    union all

    select
        merge_chains.source,
        merge_chains.incident_id,
        targets.incident_id as root_incident_id,
        merge_chains.chain_depth + 1 as chain_depth
    from merge_chains
    inner join latest_records as current_records
        on
            merge_chains.source = current_records.source
            and merge_chains.root_incident_id = current_records.incident_id
    inner join latest_records as targets
        on
            current_records.source = targets.source
            and current_records.merged_into = targets.incident_id
    where merge_chains.chain_depth < 50

),

chain_ends as (

    select
        source,
        incident_id,
        root_incident_id,
        row_number() over (
            partition by source, incident_id order by chain_depth desc
        ) as depth_rank
    from merge_chains

),

final as (

    select
        latest_records.source,
        latest_records.incident_id,
        chain_ends.root_incident_id,
        latest_records.service,
        latest_records.alert_at,
        latest_records.resolved_at,
        latest_records.updated_at,
        latest_records.caused_by_deployment_id,
        latest_records.root_cause_sha,
        latest_records.merged_into,
        latest_records.resolution_reason,
        latest_records.source || ':' || chain_ends.root_incident_id as incident_key,
        latest_records.source || ':' || latest_records.incident_id as record_incident_key,
        chain_ends.root_incident_id = latest_records.incident_id as is_surviving
    from latest_records
    inner join chain_ends
        on
            latest_records.source = chain_ends.source
            and latest_records.incident_id = chain_ends.incident_id
            and chain_ends.depth_rank = 1

)

select * from final
