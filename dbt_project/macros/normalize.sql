{#- Text normalisation shared by the staging models. -#}

{% macro normalize_name(expression) -%}
    lower(trim({{ expression }}))
{%- endmacro %}


{#-
    Canonical deployment state. The lists follow the states GitHub, GitLab
    and common CI systems report; anything else is `unknown`.
-#}
{% macro canonical_state(expression) -%}
    case
        when {{ normalize_name(expression) }} = 'success' then 'success'
        when {{ normalize_name(expression) }} in ('failure', 'failed', 'error') then 'failure'
        when {{ normalize_name(expression) }} in ('cancelled', 'canceled', 'skipped')
            then 'cancelled'
        when {{ normalize_name(expression) }} in (
            'queued', 'pending', 'created', 'waiting', 'running', 'manual', 'blocked',
            'in_progress'
        ) then 'in_progress'
        when {{ normalize_name(expression) }} = 'inactive' then 'inactive'
        else 'unknown'
    end
{%- endmacro %}


{#-
    Rows (alias, environment, priority) of the environment mapping: the default
    aliases of the seed, then the `environment_mapping` var, whose entries win.
    Keys and values of the var are trimmed and lower-cased like the names
    they are matched against.
-#}
{% macro environment_aliases() -%}
    select
        {{ normalize_name('alias') }} as alias,
        {{ normalize_name('environment') }} as environment,
        1 as priority
    from {{ ref('environment_aliases') }}
    {%- for name, canonical in var('environment_mapping', {}).items() %}
    union all
    select
        '{{ name | trim | lower | replace("'", "''") }}' as alias,
        '{{ canonical | trim | lower | replace("'", "''") }}' as environment,
        2 as priority
    {%- endfor %}
{%- endmacro %}
