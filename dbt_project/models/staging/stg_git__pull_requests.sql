with

source as (

    select * from {{ source('raw', 'raw_git__pull_requests') }}

),

renamed as (

    select
        _source as source,
        coalesce(nullif(trim(repo), ''), 'default') as repo,
        number as pr_number,
        opened_at,
        merged_at,
        trim(merge_commit_sha) as merge_commit_sha,
        title,
        head_ref,
        coalesce(labels, '[]') as labels,
        coalesce(is_bot, false) as is_bot,
        coalesce(created_as_draft, false) as created_as_draft,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
