with

changes as (

    select * from {{ ref('int_changes') }}

),

final as (

    select * from changes

)

select * from final
