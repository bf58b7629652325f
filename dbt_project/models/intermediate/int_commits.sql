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
        repo,
        sha,
        source,
        parent_shas,
        parent_count,
        is_merge,
        authored_at,
        committed_at,
        subject,
        reverted_sha,
        patch_id,
        is_bot,
        pr_number
    from ranked
    where source_rank = 1

)

select * from final
