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


{#-
    One row per element of the JSON array of strings `expression`: a
    set-returning expression for a select list, where the other columns
    repeat on each element's row.
-#}
{% macro json_string_array_elements(expression) -%}
    {{ return(adapter.dispatch('json_string_array_elements', 'dora')(expression)) }}
{%- endmacro %}

{% macro default__json_string_array_elements(expression) -%}
    jsonb_array_elements_text(cast({{ expression }} as jsonb))
{%- endmacro %}

{% macro duckdb__json_string_array_elements(expression) -%}
    unnest(from_json({{ expression }}, '["VARCHAR"]'))
{%- endmacro %}

{% macro spark__json_string_array_elements(expression) -%}
    explode(from_json({{ expression }}, 'array<string>'))
{%- endmacro %}
