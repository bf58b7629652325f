{#- Aggregates shared by the daily and trailing DORA marts. -#}

{#- The interpolated percentile of `expression` (a fraction from 0 to 1); nulls are ignored. -#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'dora')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}


{#-
    The columns of dora_daily__samples that dora_metric_columns and
    dora_trailing_metrics read: a sample fingerprint hashes these.
-#}
{% macro sample_metric_inputs() -%}
    {{ return([
        'sample_kind', 'is_cfr_eligible', 'is_failed', 'is_unplanned', 'pr_lead_time_seconds',
        'commit_lead_time_seconds', 'is_open', 'restore_seconds', 'recovery_seconds',
    ]) }}
{%- endmacro %}


{#-
    The select list of the DORA metrics over the rows of dora_daily__samples
    aliased `relation` in the current group. Rates and averages are null
    where their denominator is empty, never 0.
-#}
{% macro dora_metric_columns(relation) -%}
    {%- set deployment = "relation.sample_kind = 'deployment'" | replace('relation', relation) -%}
    {%- set incident = "relation.sample_kind = 'incident'" | replace('relation', relation) -%}
    count(case when {{ deployment }} then 1 end) as deployment_count,
    count(case when {{ deployment }} and {{ relation }}.is_cfr_eligible then 1 end)
        as eligible_deployment_count,
    count(
        case when {{ deployment }} and {{ relation }}.is_cfr_eligible and {{ relation }}.is_failed then 1 end
    ) as failed_deployment_count,
    cast(
        count(
            case when {{ deployment }} and {{ relation }}.is_cfr_eligible and {{ relation }}.is_failed then 1 end
        ) as {{ type_double() }}
    ) / nullif(count(case when {{ deployment }} and {{ relation }}.is_cfr_eligible then 1 end), 0)
        as change_failure_rate,
    count(case when {{ deployment }} and {{ relation }}.is_unplanned then 1 end)
        as unplanned_deployment_count,
    cast(
        count(case when {{ deployment }} and {{ relation }}.is_unplanned then 1 end)
        as {{ type_double() }}
    ) / nullif(count(case when {{ deployment }} then 1 end), 0) as rework_rate,
    count({{ relation }}.pr_lead_time_seconds) as pr_lead_time_sample_count,
    {{ percentile(relation ~ '.pr_lead_time_seconds', 0.5) }} as median_pr_lead_time_seconds,
    count({{ relation }}.commit_lead_time_seconds) as commit_lead_time_sample_count,
    {{ percentile(relation ~ '.commit_lead_time_seconds', 0.5) }}
        as median_commit_lead_time_seconds,
    count(case when {{ incident }} then 1 end) as incident_count,
    count(case when {{ incident }} and {{ relation }}.is_open then 1 end) as open_incident_count,
    avg({{ relation }}.restore_seconds) as mean_restore_seconds,
    {{ percentile(relation ~ '.restore_seconds', 0.5) }} as median_restore_seconds,
    {{ percentile(relation ~ '.restore_seconds', 0.9) }} as p90_restore_seconds,
    max({{ relation }}.restore_seconds) as max_restore_seconds,
    count({{ relation }}.recovery_seconds) as recovered_deployment_count,
    avg({{ relation }}.recovery_seconds) as mean_failed_deployment_recovery_seconds
{%- endmacro %}


{#- A 64-bit floating-point type (type_double() is 32-bit on some engines, DuckDB included). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'dora')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
