{#- One row per contract and listed holiday, read from the `contracts` var. -#}
{%- set rows = [] -%}
{%- for contract in contract_definitions() -%}
    {%- for holiday in contract['holidays'] -%}
        {%- do rows.append([contract_literal(contract['id']), contract_literal(holiday)]) -%}
    {%- endfor -%}
{%- endfor -%}

with

definitions as (

    {% if rows %}
        select *
        from (
            values
            {% for row in rows -%}
                ({{ row | join(', ') }}){{ ',' if not loop.last }}
            {% endfor %}
        ) as holiday_rows (contract_id, holiday_date)
    {% else %}
        select
            null as contract_id,
            null as holiday_date
        where 1 = 0
    {% endif %}

),

final as (

    select distinct
        cast(contract_id as {{ dbt.type_string() }}) as contract_id,
        cast(holiday_date as date) as holiday_date
    from definitions

)

select * from final
