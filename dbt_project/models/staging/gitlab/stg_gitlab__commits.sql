{#-
    The raw tables exist once the GitLab assets have run on this warehouse.
    Until then this view is empty, so the models that union it still build.
-#}
{%- set branch_table = source('gitlab', 'raw_gitlab__commits') -%}
{%- set pr_table = source('gitlab', 'raw_gitlab__merge_request_commits') -%}
{%- set pulls_table = source('gitlab', 'raw_gitlab__merge_requests') -%}
{%- set raw_exists = execute
    and load_relation(branch_table) is not none
    and load_relation(pr_table) is not none
    and load_relation(pulls_table) is not none -%}
{%- set commit_columns -%}
    _source, repo, sha, parent_shas, parent_count, authored_at, committed_at,
    subject, reverted_sha, is_bot, _loaded_at
{%- endset -%}

with

branch_commits as (

    {% if raw_exists -%}
        select {{ commit_columns }}, changed_services, cast(null as integer) as pr_number
        from {{ branch_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as sha,
            cast(null as {{ dbt.type_string() }}) as parent_shas,
            cast(null as integer) as parent_count,
            cast(null as {{ type_timestamptz() }}) as authored_at,
            cast(null as {{ type_timestamptz() }}) as committed_at,
            cast(null as {{ dbt.type_string() }}) as subject,
            cast(null as {{ dbt.type_string() }}) as reverted_sha,
            cast(null as boolean) as is_bot,
            cast(null as {{ type_timestamptz() }}) as _loaded_at,
            cast(null as {{ dbt.type_string() }}) as changed_services,
            cast(null as integer) as pr_number
        where false
    {%- endif %}

),

pull_request_commits as (

    {% if raw_exists -%}
        select
            {{ commit_columns }},
            cast(null as {{ dbt.type_string() }}) as changed_services,
            pr_number
        from {{ pr_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as sha,
            cast(null as {{ dbt.type_string() }}) as parent_shas,
            cast(null as integer) as parent_count,
            cast(null as {{ type_timestamptz() }}) as authored_at,
            cast(null as {{ type_timestamptz() }}) as committed_at,
            cast(null as {{ dbt.type_string() }}) as subject,
            cast(null as {{ dbt.type_string() }}) as reverted_sha,
            cast(null as boolean) as is_bot,
            cast(null as {{ type_timestamptz() }}) as _loaded_at,
            cast(null as {{ dbt.type_string() }}) as changed_services,
            cast(null as integer) as pr_number
        where false
    {%- endif %}

),

pull_requests as (

    {% if raw_exists -%}
        select
            _source,
            repo,
            number as pr_number,
            merged_at
        from {{ pulls_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as integer) as pr_number,
            cast(null as {{ type_timestamptz() }}) as merged_at
        where false
    {%- endif %}

),

-- A commit listed by several merge requests belongs to the first one merged.
pull_request_links as (

    select
        pull_request_commits._source,
        pull_request_commits.repo,
        pull_request_commits.sha,
        pull_request_commits.pr_number,
        row_number() over (
            partition by pull_request_commits._source, pull_request_commits.sha
            order by
                pull_requests.merged_at asc nulls last,
                pull_request_commits.pr_number asc
        ) as link_rank
    from pull_request_commits
    left join pull_requests
        on
            pull_request_commits._source = pull_requests._source
            and pull_request_commits.pr_number = pull_requests.pr_number

),

all_commits as (

    select * from branch_commits
    union all
    select * from pull_request_commits

),

-- The branch listing wins over a merge request listing of the same commit.
ranked_commits as (

    select
        *,
        row_number() over (
            partition by _source, sha
            order by case when pr_number is null then 0 else 1 end, _loaded_at desc
        ) as commit_rank
    from all_commits

),

renamed as (

    select
        ranked_commits._source as source,
        ranked_commits.repo,
        lower(trim(ranked_commits.sha)) as sha,
        coalesce(ranked_commits.parent_shas, '[]') as parent_shas,
        coalesce(ranked_commits.parent_count, 0) as parent_count,
        coalesce(ranked_commits.parent_count, 0) > 1 as is_merge,
        ranked_commits.authored_at,
        ranked_commits.committed_at,
        ranked_commits.subject,
        lower(trim(ranked_commits.reverted_sha)) as reverted_sha,
        cast(null as {{ dbt.type_string() }}) as patch_id,
        coalesce(ranked_commits.is_bot, false) as is_bot,
        pull_request_links.pr_number,
        cast(null as {{ type_timestamptz() }}) as pr_opened_at,
        cast(null as {{ type_timestamptz() }}) as pr_merged_at,
        cast(null as {{ type_timestamptz() }}) as pr_ready_for_review_at,
        cast(null as {{ type_timestamptz() }}) as pr_reopened_at,
        cast(null as {{ type_timestamptz() }}) as pr_closed_at,
        cast(null as boolean) as pr_created_as_draft,
        ranked_commits.changed_services,
        ranked_commits._loaded_at as loaded_at

    from ranked_commits
    left join pull_request_links
        on
            ranked_commits._source = pull_request_links._source
            and ranked_commits.sha = pull_request_links.sha
            and pull_request_links.link_rank = 1
    where ranked_commits.commit_rank = 1

),

final as (

    select * from renamed

)

select * from final
