with

source as (

    select * from {{ source('raw', 'raw_git__commits') }}

),

renamed as (

    select
        _source as source,
        coalesce(nullif(trim(repo), ''), 'default') as repo,
        trim(sha) as sha,
        coalesce(parent_shas, '[]') as parent_shas,
        coalesce(parent_count, 0) as parent_count,
        coalesce(parent_count, 0) > 1 as is_merge,
        authored_at,
        committed_at,
        subject,
        trim(reverted_sha) as reverted_sha,
        nullif(trim(patch_id), '') as patch_id,
        coalesce(is_bot, false) as is_bot,
        pr_number,
        pr_opened_at,
        pr_merged_at,
        pr_ready_for_review_at,
        pr_reopened_at,
        pr_closed_at,
        pr_created_as_draft,
        _loaded_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
