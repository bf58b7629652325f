{#-
    The raw table exists once the GitLab assets have run on this warehouse.
    Until then this view is empty, so a data-quality model can union it.
-#}
{%- set raw_table = source('gitlab', 'raw_gitlab__compares') -%}
{%- set raw_exists = execute and load_relation(raw_table) is not none -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as _source,
            cast(null as {{ dbt.type_string() }}) as repo,
            cast(null as {{ dbt.type_string() }}) as base_sha,
            cast(null as {{ dbt.type_string() }}) as head_sha,
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as integer) as listed_commits,
            cast(null as boolean) as is_truncated,
            cast(null as {{ type_timestamptz() }}) as _loaded_at
        where false
    {%- endif %}

),

renamed as (

    select
        _source as source,
        repo,
        lower(base_sha) as base_sha,
        lower(head_sha) as head_sha,
        status,
        cast(null as integer) as total_commits,
        listed_commits,
        coalesce(is_truncated, false) as is_truncated,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
