with

members as (

    select * from {{ ref('int_change_members') }}

),

commits as (

    select * from {{ ref('int_commits') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests') }}

),

production_deployments as (

    select * from {{ ref('int_production_deployments') }}

),

containment as (

    select * from {{ source('pipeline', 'containment__commit_deployments') }}

),

pr_changes as (

    select distinct
        members.change_id,
        members.repo,
        members.pr_number,
        'pull_request' as change_kind,
        pull_requests.landing_sha,
        coalesce(pull_requests.opened_at, landing.committed_at) as opened_at,
        pull_requests.merged_at,
        pull_requests.is_bot,
        pull_requests.is_hotfix
    from members
    inner join pull_requests
        on
            members.repo = pull_requests.repo
            and members.pr_number = pull_requests.pr_number
    left join commits as landing
        on
            pull_requests.repo = landing.repo
            and pull_requests.landing_sha = landing.sha

),

-- A direct commit starts when it was committed; its subject plays the
-- role of a pull request title for the hotfix rule.
direct_changes as (

    select
        members.change_id,
        members.repo,
        members.pr_number,
        'direct_commit' as change_kind,
        commits.sha as landing_sha,
        commits.committed_at as opened_at,
        commits.committed_at as merged_at,
        commits.is_bot,
        {{ starts_with_any('commits.subject', var('hotfix_title_prefixes')) }} as is_hotfix
    from members
    inner join commits
        on
            members.repo = commits.repo
            and members.sha = commits.sha
    where members.pr_number is null

),

changes as (

    select * from pr_changes
    union all
    select * from direct_changes

),

-- Services that deploy each repo: an unshipped change is listed once per
-- such service, or once with a null service when the repo has none.
repo_services as (

    select distinct
        repo,
        service
    from production_deployments
    where is_counted

),

-- In a repo with `paths`, a change belongs to the deploying services whose
-- folders any of its commits touch. Commits with no file list add nothing.
mapped_members as (

    select
        members.change_id,
        members.repo,
        commits.changed_services
    from members
    inner join commits
        on
            members.repo = commits.repo
            and members.sha = commits.sha
    where commits.changed_services is not null

),

mapped_changes as (

    select
        change_id,
        {{ dbt.bool_or("changed_services != '[]'") }} as touches_service_folder
    from mapped_members
    group by change_id

),

mapped_change_services as (

    select distinct
        mapped_members.change_id,
        repo_services.service
    from mapped_members
    inner join repo_services
        on
            mapped_members.repo = repo_services.repo
            and mapped_members.changed_services
            like {{ dbt.concat(["'%\"'", "repo_services.service", "'\"%'"]) }}

),

unmapped_candidates as (

    select
        changes.*,
        repo_services.service
    from changes
    left join repo_services
        on changes.repo = repo_services.repo
    where changes.change_id not in (select mapped_changes.change_id from mapped_changes)

),

mapped_candidates as (

    select
        changes.*,
        mapped_change_services.service
    from changes
    inner join mapped_changes
        on changes.change_id = mapped_changes.change_id
    left join mapped_change_services
        on changes.change_id = mapped_change_services.change_id
    where mapped_changes.touches_service_folder

),

candidates as (

    select * from unmapped_candidates
    union all
    select * from mapped_candidates

),

member_shipments as (

    select
        members.change_id,
        containment.service,
        production_deployments.deployment_key,
        production_deployments.deployed_at,
        production_deployments.is_baseline,
        row_number() over (
            partition by members.change_id, containment.service
            order by production_deployments.deployed_at, production_deployments.deployment_key
        ) as shipment_rank
    from members
    inner join containment
        on
            members.repo = containment.repo
            and members.sha = containment.sha
    inner join production_deployments
        on containment.deployment_key = production_deployments.deployment_key
    where members.is_shipping_member

),

first_shipments as (

    select * from member_shipments
    where shipment_rank = 1

),

joined as (

    select
        candidates.*,
        first_shipments.deployment_key as shipped_by_deployment_key,
        first_shipments.deployed_at,
        first_shipments.deployment_key is not null as is_shipped,
        coalesce(first_shipments.is_baseline, false) as is_baseline_shipment
    from candidates
    left join first_shipments
        on
            candidates.change_id = first_shipments.change_id
            and candidates.service = first_shipments.service

),

measured as (

    select
        *,
        case
            when is_shipped and not is_baseline_shipment
                then {{ seconds_between('opened_at', 'deployed_at') }}
        end as pr_lead_time_seconds,
        case
            when not is_shipped
                then {{ seconds_between('opened_at', as_of_timestamp()) }}
        end as age_seconds
    from joined

),

final as (

    select
        {{ dbt.concat(["change_id", "'|'", "coalesce(service, '')"]) }} as change_service_key,
        change_id,
        change_kind,
        repo,
        service,
        pr_number,
        landing_sha,
        opened_at,
        merged_at,
        is_bot,
        is_hotfix,
        shipped_by_deployment_key,
        deployed_at,
        {{ local_date('deployed_at') }} as deployed_date,
        is_shipped,
        is_baseline_shipment,
        pr_lead_time_seconds,
        coalesce(pr_lead_time_seconds < 0, false) as is_negative_lead_time,
        age_seconds
    from measured

)

select * from final
