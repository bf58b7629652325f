{#-
    The raw table exists once the GitHub assets have run on this warehouse.
    Until then this view is empty, so the models that union it still build.
-#}
{%- set raw_table = source('github', 'raw_github__pull_requests') -%}
{%- set raw_exists = execute and load_relation(raw_table) is not none -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as integer) as number,
            cast(null as {{ type_timestamptz() }}) as opened_at,
            cast(null as {{ type_timestamptz() }}) as merged_at,
            cast(null as {{ dbt.type_string() }}) as merge_commit_sha,
            cast(null as {{ dbt.type_string() }}) as title,
            cast(null as {{ dbt.type_string() }}) as head_ref,
            cast(null as boolean) as targets_production_branch,
            cast(null as {{ dbt.type_string() }}) as labels,
            cast(null as boolean) as is_bot,
            cast(null as boolean) as is_draft,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
        where false
    {%- endif %}

),

-- A pull request into another branch (a feature or release branch) is no change.
production_branch as (

    select * from source
    where coalesce(targets_production_branch, true)

),

renamed as (

    select
        _source as source,
        repo,
        number as pr_number,
        opened_at,
        merged_at,
        lower(trim(merge_commit_sha)) as merge_commit_sha,
        title,
        head_ref,
        coalesce(labels, '[]') as labels,
        coalesce(is_bot, false) as is_bot,
        coalesce(is_draft, false) as created_as_draft,
        _loaded_at as loaded_at

    from production_branch

),

final as (

    select * from renamed

)

select * from final
