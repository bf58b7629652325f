{#- One row per contract and outcome, read from the `contracts` var. -#}
{%- set rows = [] -%}
{%- for contract in contract_definitions() -%}
    {%- for outcome in contract['outcomes'] -%}
        {%- do rows.append([
            contract_literal(contract['id']),
            contract_literal(contract['mission_id']),
            contract_literal(outcome['id']),
            contract_literal(outcome['metric']),
            contract_literal(outcome['operator']),
            outcome['target'],
            contract_literal(outcome['unit']),
            outcome['unit_factor'],
            outcome['window_days'],
            outcome['sustain_days'],
            contract_literal(outcome['service']),
            contract_literal(contract['start_date']),
            contract_literal(contract['timezone']),
            contract_literal(contract['calendar']),
            contract_literal(contract['baseline_date']),
            contract_literal(contract['final_date']),
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
        ) as contract_rows (
            contract_id,
            mission_id,
            outcome_id,
            metric,
            operator,  -- noqa: RF04
            target_value,
            unit,
            unit_factor,
            window_days,
            sustain_days,
            service_filter,
            start_date,
            timezone,
            calendar,
            baseline_date,
            final_date
        )
    {% else %}
        select
            null as contract_id,
            null as mission_id,
            null as outcome_id,
            null as metric,
            null as operator,  -- noqa: RF04
            cast(null as {{ contract_double() }}) as target_value,
            null as unit,
            cast(null as {{ contract_double() }}) as unit_factor,
            cast(null as {{ dbt.type_int() }}) as window_days,
            cast(null as {{ dbt.type_int() }}) as sustain_days,
            null as service_filter,
            null as start_date,
            null as timezone,
            null as calendar,
            null as baseline_date,
            null as final_date
        where 1 = 0
    {% endif %}

),

final as (

    select
        cast(contract_id as {{ dbt.type_string() }}) as contract_id,
        cast(mission_id as {{ dbt.type_string() }}) as mission_id,
        cast(outcome_id as {{ dbt.type_string() }}) as outcome_id,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(operator as {{ dbt.type_string() }}) as operator,  -- noqa: RF04
        cast(target_value as {{ contract_double() }}) as target_value,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(unit_factor as {{ contract_double() }}) as unit_factor,
        cast(target_value * unit_factor as {{ contract_double() }}) as target_base_value,
        cast(window_days as {{ dbt.type_int() }}) as window_days,
        cast(sustain_days as {{ dbt.type_int() }}) as sustain_days,
        cast(service_filter as {{ dbt.type_string() }}) as service_filter,
        cast(start_date as date) as start_date,
        cast(timezone as {{ dbt.type_string() }}) as timezone,
        cast(calendar as {{ dbt.type_string() }}) as calendar,
        cast(baseline_date as date) as baseline_date,
        cast(final_date as date) as final_date
    from definitions

)

select * from final
