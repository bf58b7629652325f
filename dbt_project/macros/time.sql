{#- Time helpers. Engine-specific SQL stays here so the models stay portable. -#}

{#-
    The measurement time: var('as_of') when set, else the environment variable
    DORA_AS_OF (the refresh sets it, so its --vars stay the same from run to run
    and dbt can parse partially), else the time of the run.
-#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', none) or env_var('DORA_AS_OF', '') -%}
    {%- if as_of -%}
        {{ timestamptz_literal(as_of) }}
    {%- else -%}
        {{ dbt.current_timestamp() }}
    {%- endif -%}
{%- endmacro %}


{% macro timestamptz_literal(value) -%}
    {{ return(adapter.dispatch('timestamptz_literal', 'dora')(value)) }}
{%- endmacro %}

{% macro default__timestamptz_literal(value) -%}
    cast('{{ value }}' as timestamp with time zone)
{%- endmacro %}

{% macro duckdb__timestamptz_literal(value) -%}
    cast('{{ value }}' as timestamptz)
{%- endmacro %}

{#- Spark's timestamp is an instant; the literal's offset converts it. -#}
{% macro spark__timestamptz_literal(value) -%}
    cast('{{ value }}' as timestamp)
{%- endmacro %}


{#- The type of an instant (a UTC timestamp with time zone). -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'dora')()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}
    timestamp with time zone
{%- endmacro %}

{% macro spark__type_timestamptz() -%}
    timestamp
{%- endmacro %}


{#- The local calendar date of a UTC timestamp in var('timezone'), DST-aware. -#}
{% macro local_date(expression) -%}
    {{ return(adapter.dispatch('local_date', 'dora')(expression)) }}
{%- endmacro %}

{% macro default__local_date(expression) -%}
    cast(({{ expression }}) at time zone '{{ var("timezone") }}' as date)
{%- endmacro %}

{% macro duckdb__local_date(expression) -%}
    cast(timezone('{{ var("timezone") }}', {{ expression }}) as date)
{%- endmacro %}

{#- Spark sessions of this project run in UTC (profiles.yml), so the shift is from UTC. -#}
{% macro spark__local_date(expression) -%}
    to_date(from_utc_timestamp({{ expression }}, '{{ var("timezone") }}'))
{%- endmacro %}


{#- Whole seconds from `start` to `end` (negative when end is earlier). -#}
{% macro seconds_between(start, end) -%}
    {{ return(adapter.dispatch('seconds_between', 'dora')(start, end)) }}
{%- endmacro %}

{% macro default__seconds_between(start, end) -%}
    {{ dbt.datediff(start, end, 'second') }}
{%- endmacro %}

{% macro duckdb__seconds_between(start, end) -%}
    (epoch({{ end }}) - epoch({{ start }}))
{%- endmacro %}

{#- The PostgreSQL and Spark versions compute the DuckDB one's double arithmetic. -#}
{% macro postgres__seconds_between(start, end) -%}
    (
        cast(extract(epoch from {{ end }}) as double precision)
        - cast(extract(epoch from {{ start }}) as double precision)
    )
{%- endmacro %}

{% macro spark__seconds_between(start, end) -%}
    (cast(unix_micros({{ end }}) as double) / 1000000 - cast(unix_micros({{ start }}) as double) / 1000000)
{%- endmacro %}
