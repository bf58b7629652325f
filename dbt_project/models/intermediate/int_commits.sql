{{ config(tags=['before_containment']) }}

with

commits as (

    {{ union_models(
        ['stg_files__commits', 'stg_git__commits', 'stg_github__commits', 'stg_gitlab__commits'],
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

-- The same commit may come from several sources (a file and a git clone):
-- keep the row that links it to a pull request, then the latest load.
ranked as (

    select
        *,
        row_number() over (
            partition by repo, sha
            order by
                case when pr_number is null then 1 else 0 end asc,
                loaded_at desc,
                source asc
        ) as source_rank
    from commits

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
        commit_services.changed_services
    from ranked
    left join commit_services
        on
            ranked.repo = commit_services.repo
            and ranked.sha = commit_services.sha
    where ranked.source_rank = 1

)

select * from final
