with

commits as (

    select * from {{ ref('int_commits') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests') }}

),

-- A pull request is a change once merged, and only if merged by as_of.
merged_prs as (

    select
        pull_requests.*,
        {{ dbt.concat([
            "'pr:'", "pull_requests.repo", "'#'",
            "cast(pull_requests.pr_number as " ~ dbt.type_string() ~ ")"
        ]) }} as change_id,
        landing.sha is not null as has_known_merge_commit
    from pull_requests
    left join commits as landing
        on
            pull_requests.repo = landing.repo
            and pull_requests.merge_commit_sha = landing.sha
    where
        pull_requests.merged_at is not null
        and pull_requests.merged_at <= {{ as_of_timestamp() }}

),

pr_landing_members as (

    select
        change_id,
        repo,
        merge_commit_sha as sha,
        pr_number,
        true as is_shipping_member
    from merged_prs
    where has_known_merge_commit

),

pr_commit_members as (

    select
        merged_prs.change_id,
        commits.repo,
        commits.sha,
        merged_prs.pr_number,
        not merged_prs.has_known_merge_commit as is_shipping_member
    from merged_prs
    inner join commits
        on
            merged_prs.repo = commits.repo
            and merged_prs.pr_number = commits.pr_number
    where commits.sha != coalesce(merged_prs.merge_commit_sha, '')

),

pr_landing_shas as (

    select
        repo,
        sha
    from pr_landing_members

),

-- A commit pushed straight to the branch: not a merge, in no pull request.
direct_members as (

    select
        {{ dbt.concat(["'commit:'", "commits.repo", "'@'", "commits.sha"]) }} as change_id,
        commits.repo,
        commits.sha,
        cast(null as integer) as pr_number,
        true as is_shipping_member
    from commits
    left join pr_landing_shas
        on
            commits.repo = pr_landing_shas.repo
            and commits.sha = pr_landing_shas.sha
    where
        not commits.is_merge
        and commits.pr_number is null
        and pr_landing_shas.sha is null
        and commits.committed_at <= {{ as_of_timestamp() }}

),

final as (

    select * from pr_landing_members
    union all
    select * from pr_commit_members
    union all
    select * from direct_members

)

select * from final
