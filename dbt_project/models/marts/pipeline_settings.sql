-- The settings the warehouse was built with, for readers that need them
-- (the window-metrics reader takes its default time zone from here).
with

final as (

    select
        {{ as_of_timestamp() }} as as_of,
        {{ dbt.string_literal(var('timezone')) }} as timezone,
        {{ var('hotfix_window_hours', 24) }} as hotfix_window_hours,
        {% if var('latest_deployment_within_hours', none) is none -%}
            cast(null as {{ type_double() }})
        {%- else -%}
            cast({{ var('latest_deployment_within_hours') }} as {{ type_double() }})
        {%- endif %} as latest_deployment_within_hours,
        {{ dbt.current_timestamp() }} as built_at
    from (select 1 as one) as single_row

)

select * from final
