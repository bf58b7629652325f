{#- Helpers of the contract marts. The contracts arrive as the `contracts` var,
    a list of mappings written by dagster_project.contract.dbt_vars. -#}

{% macro contract_definitions() -%}
    {{ return(var('contracts', [])) }}
{%- endmacro %}


{#- A SQL string literal, with quotes doubled. -#}
{% macro contract_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}


{#- The local calendar date of a UTC timestamp in the zone named by a column. -#}
{% macro contract_local_date(expression, zone) -%}
    {{ return(adapter.dispatch('contract_local_date', 'dora')(expression, zone)) }}
{%- endmacro %}

{% macro default__contract_local_date(expression, zone) -%}
    cast(({{ expression }}) at time zone {{ zone }} as date)
{%- endmacro %}

{% macro duckdb__contract_local_date(expression, zone) -%}
    cast(timezone({{ zone }}, {{ expression }}) as date)
{%- endmacro %}

{#- Spark sessions of this project run in UTC (profiles.yml), so the shift is from UTC. -#}
{% macro spark__contract_local_date(expression, zone) -%}
    to_date(from_utc_timestamp({{ expression }}, {{ zone }}))
{%- endmacro %}


{#- The UTC instant at which a local date starts in the zone named by a column. -#}
{% macro contract_day_start(day, zone) -%}
    {{ return(adapter.dispatch('contract_day_start', 'dora')(day, zone)) }}
{%- endmacro %}

{% macro default__contract_day_start(day, zone) -%}
    (cast({{ day }} as timestamp) at time zone {{ zone }})
{%- endmacro %}

{% macro duckdb__contract_day_start(day, zone) -%}
    timezone({{ zone }}, cast({{ day }} as timestamp))
{%- endmacro %}

{% macro spark__contract_day_start(day, zone) -%}
    to_utc_timestamp(cast({{ day }} as timestamp), {{ zone }})
{%- endmacro %}


{#- The date `days` days after `day` (negative for earlier); `days` may be a column. -#}
{% macro contract_add_days(day, days) -%}
    {{ return(adapter.dispatch('contract_add_days', 'dora')(day, days)) }}
{%- endmacro %}

{% macro default__contract_add_days(day, days) -%}
    cast({{ dbt.dateadd('day', days, day) }} as date)
{%- endmacro %}

{#- DuckDB adds a whole number of days to a date with +. -#}
{% macro duckdb__contract_add_days(day, days) -%}
    cast({{ day }} + cast({{ days }} as integer) as date)
{%- endmacro %}

{% macro spark__contract_add_days(day, days) -%}
    date_add(cast({{ day }} as date), cast({{ days }} as int))
{%- endmacro %}


{#- A double-precision float type: type_double() is a 4-byte float on DuckDB. -#}
{% macro contract_double() -%}
    {{ return(adapter.dispatch('contract_double', 'dora')()) }}
{%- endmacro %}

{% macro default__contract_double() -%}
    double precision
{%- endmacro %}

{% macro spark__contract_double() -%}
    double
{%- endmacro %}


{#- `expression` (a double) rounded to `places` decimal places, as a double. -#}
{% macro contract_round(expression, places) -%}
    {{ return(adapter.dispatch('contract_round', 'dora')(expression, places)) }}
{%- endmacro %}

{% macro default__contract_round(expression, places) -%}
    round({{ expression }}, {{ places }})
{%- endmacro %}

{#- PostgreSQL rounds to decimal places only a numeric. -#}
{% macro postgres__contract_round(expression, places) -%}
    cast(round(cast({{ expression }} as numeric), {{ places }}) as double precision)
{%- endmacro %}


{#- True when the date `day` is a Saturday or a Sunday. -#}
{% macro contract_is_weekend(day) -%}
    {{ return(adapter.dispatch('contract_is_weekend', 'dora')(day)) }}
{%- endmacro %}

{#- DuckDB and PostgreSQL number the days of the week from 0 (Sunday) to 6 (Saturday). -#}
{% macro default__contract_is_weekend(day) -%}
    extract(dow from {{ day }}) in (0, 6)
{%- endmacro %}

{#- Spark numbers them from 1 (Sunday) to 7 (Saturday). -#}
{% macro spark__contract_is_weekend(day) -%}
    dayofweek({{ day }}) in (1, 7)
{%- endmacro %}
