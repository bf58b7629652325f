{%- set commit_models = [
    'stg_files__commits', 'stg_git__commits', 'stg_github__commits', 'stg_gitlab__commits'
] -%}
{{ config(
    tags=['before_containment'],
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['repo', 'sha'],
    on_schema_change='append_new_columns',
    post_hook=[
        "{{ delete_missing_keys(['stg_files__commits', 'stg_git__commits',"
        " 'stg_github__commits', 'stg_gitlab__commits'], ['repo', 'sha']) }}"
    ]
) }}

with

commits as (

    {{ union_models(
        commit_models,
        [
            'source', 'repo', 'sha', 'parent_shas', 'parent_count', 'is_merge',
            'authored_at', 'committed_at', 'subject', 'reverted_sha', 'patch_id',
            'is_bot', 'pr_number', 'loaded_at'
        ]
    ) }}

),

-- Only the API sources know which services' folders a commit touches.
api_commit_services as (

    select
        repo,
        sha,
        changed_services
    from {{ ref('stg_github__commits') }}
    where changed_services is not null
    union all
    select
        repo,
        sha,
        changed_services
    from {{ ref('stg_gitlab__commits') }}
    where changed_services is not null

),

commit_services as (

    select
        repo,
        sha,
        max(changed_services) as changed_services
    from api_commit_services
    group by repo, sha

),

{% if extends_stored_table(['loaded_at']) %}

    stored as (

        select * from {{ this }}

    ),

    previous_build as (

        select max(loaded_at) as loaded_at from stored

    ),

    -- Keys to compute again. The first are keys with rows loaded since the
    -- previous build. Every key of an API source follows, because its pull
    -- request number comes from pull request rows whose load time the commit
    -- row does not carry. The last are keys whose kept row changed or is gone.
    changed_keys as (

        select
            commits.repo,
            commits.sha
        from commits
        cross join previous_build
        where
            previous_build.loaded_at is null
            or commits.loaded_at > previous_build.loaded_at
        union
        select
            repo,
            sha
        from {{ ref('stg_github__commits') }}
        union
        select
            repo,
            sha
        from {{ ref('stg_gitlab__commits') }}
        union
        select
            stored.repo,
            stored.sha
        from stored
        left join commits
            on
                stored.repo = commits.repo
                and stored.sha = commits.sha
                and stored.source = commits.source
                and stored.loaded_at = commits.loaded_at
        where commits.sha is null

    ),

    candidates as (

        select commits.*
        from commits
        inner join changed_keys
            on
                commits.repo = changed_keys.repo
                and commits.sha = changed_keys.sha

    ),

{% else %}

candidates as (

    select * from commits

),

{% endif %}

-- The same commit may come from several sources (a file and a git clone):
-- keep the row that links it to a pull request, then the latest load. The
-- other columns break ties, so full and incremental builds keep the same row.
ranked as (

    select
        *,
        row_number() over (
            partition by repo, sha
            order by
                case when pr_number is null then 1 else 0 end asc,
                loaded_at desc,
                source asc,
                pr_number asc nulls last,
                authored_at asc nulls last,
                committed_at asc nulls last,
                parent_shas asc nulls last,
                subject asc nulls last,
                reverted_sha asc nulls last,
                patch_id asc nulls last,
                is_bot asc nulls last
        ) as source_rank
    from candidates

),

final as (

    select
        ranked.repo,
        ranked.sha,
        ranked.source,
        ranked.parent_shas,
        ranked.parent_count,
        ranked.is_merge,
        ranked.authored_at,
        ranked.committed_at,
        ranked.subject,
        ranked.reverted_sha,
        ranked.patch_id,
        ranked.is_bot,
        ranked.pr_number,
        commit_services.changed_services,
        ranked.loaded_at
    from ranked
    left join commit_services
        on
            ranked.repo = commit_services.repo
            and ranked.sha = commit_services.sha
    where ranked.source_rank = 1

)

select * from final
