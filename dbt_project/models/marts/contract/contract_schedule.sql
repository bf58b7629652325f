{#- One row per contract and checkpoint, read from the `contracts` var. -#}
{%- set rows = [] -%}
{%- for contract in contract_definitions() -%}
    {%- for checkpoint in contract['checkpoints'] -%}
        {%- do rows.append([
            contract_literal(contract['id']),
            contract_literal(checkpoint['name']),
            checkpoint['offset_weeks'],
            contract_literal(checkpoint['measured_through']),
            'true' if checkpoint['is_baseline'] else 'false',
            'true' if checkpoint['is_final'] else 'false',
        ]) -%}
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
        ) as checkpoint_rows (
            contract_id,
            checkpoint_name,
            offset_weeks,
            measured_through_date,
            is_baseline,
            is_final
        )
    {% else %}
        select
            null as contract_id,
            null as checkpoint_name,
            null as offset_weeks,
            null as measured_through_date,
            null as is_baseline,
            null as is_final
        where 1 = 0
    {% endif %}

),

final as (

    select
        cast(contract_id as {{ dbt.type_string() }}) as contract_id,
        cast(checkpoint_name as {{ dbt.type_string() }}) as checkpoint_name,
        cast(offset_weeks as {{ dbt.type_int() }}) as offset_weeks,
        cast(measured_through_date as date) as measured_through_date,
        cast(is_baseline as boolean) as is_baseline,
        cast(is_final as boolean) as is_final
    from definitions

)

select * from final
