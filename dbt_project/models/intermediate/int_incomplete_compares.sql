{#-
    Walks the whole history of both shas of each cut listing, so it costs
    O(commits of the repo) per truncated compare. Cut listings are rare: a
    compare of more commits than the API lists, or of a sha it does not know.
    Only the commits of repositories with a cut listing are read, so the
    model costs almost nothing when there is none.
-#}
with recursive

truncated_compares as (

    select
        source,
        repo,
        base_sha,
        head_sha,
        total_commits,
        listed_commits
    from {{ ref('stg_github__compares') }}
    where is_truncated
    union all
    select
        source,
        repo,
        base_sha,
        head_sha,
        total_commits,
        listed_commits
    from {{ ref('stg_gitlab__compares') }}
    where is_truncated

),

-- Every join below matches a commit to a cut listing of its repository.
commits as (

    select * from {{ ref('int_commits') }}
    where repo in (select truncated_compares.repo from truncated_compares)

),

parent_links as (

    select
        repo,
        sha,
        {{ json_string_array_elements('parent_shas') }} as parent_sha
    from commits

),

-- Every sha reachable from the head, including parents missing from the graph.
head_ancestry as (

    select
        source,
        repo,
        base_sha,
        head_sha,
        head_sha as sha
    from truncated_compares
    {{ recursive_union() }}
    select
        head_ancestry.source,
        head_ancestry.repo,
        head_ancestry.base_sha,
        head_ancestry.head_sha,
        parent_links.parent_sha as sha
    from head_ancestry
    inner join parent_links
        on
            head_ancestry.repo = parent_links.repo
            and head_ancestry.sha = parent_links.sha

),

base_ancestry as (

    select
        source,
        repo,
        base_sha,
        head_sha,
        base_sha as sha
    from truncated_compares
    {{ recursive_union() }}
    select
        base_ancestry.source,
        base_ancestry.repo,
        base_ancestry.base_sha,
        base_ancestry.head_sha,
        parent_links.parent_sha as sha
    from base_ancestry
    inner join parent_links
        on
            base_ancestry.repo = parent_links.repo
            and base_ancestry.sha = parent_links.sha

),

-- The commits the listing should hold: reachable from the head, not from the base.
ahead as (

    select
        head_ancestry.source,
        head_ancestry.repo,
        head_ancestry.base_sha,
        head_ancestry.head_sha,
        head_ancestry.sha,
        commits.sha is not null as is_known
    from head_ancestry
    left join base_ancestry
        on
            head_ancestry.source = base_ancestry.source
            and head_ancestry.repo = base_ancestry.repo
            and head_ancestry.base_sha = base_ancestry.base_sha
            and head_ancestry.head_sha = base_ancestry.head_sha
            and head_ancestry.sha = base_ancestry.sha
    left join commits
        on
            head_ancestry.repo = commits.repo
            and head_ancestry.sha = commits.sha
    where base_ancestry.sha is null

),

ahead_counts as (

    select
        source,
        repo,
        base_sha,
        head_sha,
        count(case when is_known then 1 end) as graph_commits,
        count(case when not is_known then 1 end) as missing_commits
    from ahead
    group by source, repo, base_sha, head_sha

),

joined as (

    select
        truncated_compares.*,
        coalesce(ahead_counts.graph_commits, 0) as graph_commits,
        coalesce(ahead_counts.missing_commits, 0) as missing_commits,
        base_commits.sha is not null as is_base_known,
        head_commits.sha is not null as is_head_known
    from truncated_compares
    left join ahead_counts
        on
            truncated_compares.source = ahead_counts.source
            and truncated_compares.repo = ahead_counts.repo
            and truncated_compares.base_sha = ahead_counts.base_sha
            and truncated_compares.head_sha = ahead_counts.head_sha
    left join commits as base_commits
        on
            truncated_compares.repo = base_commits.repo
            and truncated_compares.base_sha = base_commits.sha
    left join commits as head_commits
        on
            truncated_compares.repo = head_commits.repo
            and truncated_compares.head_sha = head_commits.sha

),

final as (

    select
        *,
        (
            missing_commits = 0
            and graph_commits >= coalesce(total_commits, 0)
        ) as is_completed_from_graph
    from joined

)

select * from final
