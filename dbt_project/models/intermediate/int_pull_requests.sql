{%- set listing_models = [
    'stg_files__pull_requests', 'stg_git__pull_requests', 'stg_github__pull_requests',
    'stg_gitlab__merge_requests'
] -%}
{%- set commit_models = [
    'stg_files__commits', 'stg_git__commits', 'stg_github__commits', 'stg_gitlab__commits'
] -%}
{%- set api_models = [
    'stg_git__pull_requests', 'stg_github__pull_requests', 'stg_gitlab__merge_requests',
    'stg_git__commits', 'stg_github__commits', 'stg_gitlab__commits'
] -%}
{%- set hotfix_rules = [
    var('hotfix_labels'), var('hotfix_branch_prefixes'), var('hotfix_title_prefixes')
] | tojson -%}
{{ config(
    tags=['before_containment'],
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['repo', 'pr_number'],
    on_schema_change='append_new_columns',
    post_hook=[
        "{{ delete_missing_keys(['stg_files__pull_requests', 'stg_git__pull_requests',"
        " 'stg_github__pull_requests', 'stg_gitlab__merge_requests', 'stg_files__commits',"
        " 'stg_git__commits', 'stg_github__commits', 'stg_gitlab__commits'],"
        " ['repo', 'pr_number']) }}"
    ]
) }}

with

all_listed as (

    {{ union_models(
        listing_models,
        [
            'source', 'repo', 'pr_number', 'opened_at', 'merged_at', 'merge_commit_sha',
            'title', 'head_ref', 'labels', 'is_bot', 'created_as_draft', 'loaded_at'
        ]
    ) }}

),

all_commit_fields as (

    {{ union_models(
        commit_models,
        [
            'repo', 'sha', 'is_merge', 'committed_at', 'is_bot', 'pr_number', 'pr_opened_at',
            'pr_merged_at', 'pr_ready_for_review_at', 'pr_reopened_at', 'pr_closed_at',
            'pr_created_as_draft', 'loaded_at'
        ]
    ) }}

),

pr_commit_fields as (

    select * from all_commit_fields
    where pr_number is not null

),

{% if extends_stored_table(['loaded_at', 'source_row_count', 'hotfix_rules']) %}

    stored as (

        select
            repo,
            pr_number,
            loaded_at,
            source_row_count,
            hotfix_rules
        from {{ this }}

    ),

    source_rows as (

        select
            repo,
            pr_number,
            loaded_at
        from all_listed
        union all
        select
            repo,
            pr_number,
            loaded_at
        from pr_commit_fields

    ),

    current_keys as (

        select
            repo,
            pr_number,
            count(*) as source_row_count,
            max(loaded_at) as loaded_at
        from source_rows
        group by repo, pr_number

    ),

    api_rows as (

        {{ union_models(api_models, ['repo', 'pr_number']) }}

    ),

    -- Keys to compute again: a new or changed source row has a later load
    -- time and a removed one lowers the count. Every git, GitHub and GitLab
    -- key, whose rows lack their inputs' load times, and rows of other hotfix rules.
    changed_keys as (

        select
            current_keys.repo,
            current_keys.pr_number
        from current_keys
        left join stored
            on
                current_keys.repo = stored.repo
                and current_keys.pr_number = stored.pr_number
        where
            stored.pr_number is null
            or stored.source_row_count is distinct from current_keys.source_row_count
            or stored.loaded_at is distinct from current_keys.loaded_at
            or stored.hotfix_rules is distinct from '{{ hotfix_rules }}'
        union
        select
            repo,
            pr_number
        from api_rows
        where pr_number is not null

    ),

    listed as (

        select all_listed.*
        from all_listed
        inner join changed_keys
            on
                all_listed.repo = changed_keys.repo
                and all_listed.pr_number = changed_keys.pr_number

    ),

    commit_fields as (

        select pr_commit_fields.*
        from pr_commit_fields
        inner join changed_keys
            on
                pr_commit_fields.repo = changed_keys.repo
                and pr_commit_fields.pr_number = changed_keys.pr_number

    ),

{% else %}

listed as (

    select * from all_listed

),

commit_fields as (

    select * from pr_commit_fields

),

{% endif %}

-- Every source row of the pull requests this build computes.
build_rows as (

    select
        repo,
        pr_number,
        loaded_at
    from listed
    union all
    select
        repo,
        pr_number,
        loaded_at
    from commit_fields

),

key_loads as (

    select
        repo,
        pr_number,
        count(*) as source_row_count,
        max(loaded_at) as loaded_at
    from build_rows
    group by repo, pr_number

),

-- The latest load wins. The other columns break ties between rows loaded
-- together, so a full build and an incremental one keep the same row.
listed_latest as (

    select
        *,
        row_number() over (
            partition by repo, pr_number
            order by
                loaded_at desc,
                source asc,
                opened_at asc nulls last,
                merged_at asc nulls last,
                merge_commit_sha asc nulls last,
                title asc nulls last,
                head_ref asc nulls last,
                labels asc nulls last,
                is_bot asc nulls last,
                created_as_draft asc nulls last
        ) as load_rank
    from listed

),

listed_prs as (

    select * from listed_latest
    where load_rank = 1

),

-- The landing commit of a pull request known only from its commits: its
-- merge commit if it has one, else its latest commit (squash or rebased head).
commit_landing_ranked as (

    select
        repo,
        pr_number,
        sha,
        row_number() over (
            partition by repo, pr_number
            order by
                case when is_merge then 0 else 1 end asc,
                committed_at desc,
                sha desc
        ) as landing_rank
    from commit_fields

),

commit_prs as (

    select
        repo,
        pr_number,
        min(pr_opened_at) as opened_at,
        max(pr_merged_at) as merged_at,
        max(pr_ready_for_review_at) as ready_for_review_at,
        max(pr_reopened_at) as reopened_at,
        max(pr_closed_at) as closed_at,
        {{ dbt.bool_or('coalesce(pr_created_as_draft, false)') }} as created_as_draft,
        min(case when is_bot then 1 else 0 end) = 1 as is_bot
    from commit_fields
    group by repo, pr_number

),

merged as (

    select
        coalesce(listed_prs.repo, commit_prs.repo) as repo,
        coalesce(listed_prs.pr_number, commit_prs.pr_number) as pr_number,
        coalesce(listed_prs.opened_at, commit_prs.opened_at) as opened_at,
        coalesce(listed_prs.merged_at, commit_prs.merged_at) as merged_at,
        listed_prs.merge_commit_sha,
        listed_prs.title,
        listed_prs.head_ref,
        coalesce(listed_prs.labels, '[]') as labels,
        coalesce(listed_prs.is_bot, commit_prs.is_bot, false) as is_bot,
        coalesce(listed_prs.created_as_draft, commit_prs.created_as_draft, false)
            as created_as_draft,
        commit_prs.ready_for_review_at,
        commit_prs.reopened_at,
        commit_prs.closed_at,
        listed_prs.pr_number is not null as is_listed,
        commit_prs.pr_number is not null as has_commit_fields
    from listed_prs
    full outer join commit_prs
        on
            listed_prs.repo = commit_prs.repo
            and listed_prs.pr_number = commit_prs.pr_number

),

final as (

    select
        merged.repo,
        merged.pr_number,
        merged.opened_at,
        merged.merged_at,
        merged.merge_commit_sha,
        coalesce(merged.merge_commit_sha, commit_landing_ranked.sha) as landing_sha,
        merged.title,
        merged.head_ref,
        merged.labels,
        merged.is_bot,
        merged.created_as_draft,
        merged.ready_for_review_at,
        merged.reopened_at,
        merged.closed_at,
        merged.is_listed,
        merged.has_commit_fields,
        (
            {{ json_array_has_any('merged.labels', var('hotfix_labels')) }}
            or {{ starts_with_any('merged.head_ref', var('hotfix_branch_prefixes')) }}
            or {{ starts_with_any('merged.title', var('hotfix_title_prefixes')) }}
        ) as is_hotfix,
        key_loads.source_row_count,
        key_loads.loaded_at,
        '{{ hotfix_rules }}' as hotfix_rules
    from merged
    left join commit_landing_ranked
        on
            merged.repo = commit_landing_ranked.repo
            and merged.pr_number = commit_landing_ranked.pr_number
            and commit_landing_ranked.landing_rank = 1
    left join key_loads
        on
            merged.repo = key_loads.repo
            and merged.pr_number = key_loads.pr_number

)

select * from final
