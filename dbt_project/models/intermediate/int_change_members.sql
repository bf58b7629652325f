with

commits as (

    select * from {{ ref('int_commits') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests') }}

),

merge_members as (

    select * from {{ source('pipeline', 'containment__merge_members') }}

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

-- Branch commits a merge brings in, for sources whose commits carry no
-- pull request number (a local git clone).
pr_branch_members as (

    select
        merged_prs.change_id,
        merge_members.repo,
        merge_members.sha,
        merged_prs.pr_number,
        false as is_shipping_member
    from merged_prs
    inner join merge_members
        on
            merged_prs.repo = merge_members.repo
            and merged_prs.merge_commit_sha = merge_members.merge_sha
    where merged_prs.has_known_merge_commit

),

pr_members as (

    select * from pr_landing_members
    union all
    select * from pr_commit_members
    union all
    select * from pr_branch_members

),

pr_members_deduplicated as (

    select
        change_id,
        repo,
        sha,
        pr_number,
        {{ dbt.bool_or('is_shipping_member') }} as is_shipping_member
    from pr_members
    group by change_id, repo, sha, pr_number

),

-- Commits that land a pull request or arrive through its merge are never
-- direct changes, whether or not the pull request is merged by as_of.
pull_request_shas as (

    select
        repo,
        merge_commit_sha as sha
    from pull_requests
    where merge_commit_sha is not null
    union
    select
        repo,
        sha
    from merge_members

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
    left join pull_request_shas
        on
            commits.repo = pull_request_shas.repo
            and commits.sha = pull_request_shas.sha
    where
        not commits.is_merge
        and commits.pr_number is null
        and pull_request_shas.sha is null
        and commits.committed_at <= {{ as_of_timestamp() }}

),

final as (

    select * from pr_members_deduplicated
    union all
    select * from direct_members

)

select * from final
