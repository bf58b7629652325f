{#-
    True when the JSON array text `expression` holds one of `values` as an
    element, compared case-insensitively. The default implementation matches
    the quoted element in the text, which is exact for arrays of plain strings.
-#}
{% macro json_array_has_any(expression, values) -%}
    {{ return(adapter.dispatch('json_array_has_any', 'dora')(expression, values)) }}
{%- endmacro %}

{% macro default__json_array_has_any(expression, values) -%}
    {%- if values | length == 0 -%}
        false
    {%- else -%}
        (
        {%- for value in values %}
            {% if not loop.first %}or {% endif -%}
            lower(coalesce({{ expression }}, '')) like '%"{{ value | lower | replace("'", "''") }}"%'
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}


{#- True when `expression` starts with one of `prefixes`, case-insensitively. -#}
{% macro starts_with_any(expression, prefixes) -%}
    {%- if prefixes | length == 0 -%}
        false
    {%- else -%}
        (
        {%- for prefix in prefixes %}
            {% if not loop.first %}or {% endif -%}
            {{ dbt.position("'" ~ (prefix | lower | replace("'", "''")) ~ "'", "lower(coalesce(" ~ expression ~ ", ''))") }} = 1
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}


{#- `select <columns> from <model>` for each model name, joined with union all. -#}
{% macro union_models(model_names, columns) -%}
    {%- for name in model_names %}
    {% if not loop.first %}union all{% endif %}
    select {{ columns | join(', ') }} from {{ ref(name) }}
    {%- endfor %}
{%- endmacro %}
