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


{#-
    The set operator that joins the anchor and the recursive step of a
    recursive CTE walking a graph. `union` drops rows already found, so each
    node is visited once.
-#}
{% macro recursive_union() -%}
    {{ return(adapter.dispatch('recursive_union', 'dora')()) }}
{%- endmacro %}

{% macro default__recursive_union() -%}
    union
{%- endmacro %}

{#-
    NOTE: Spark 4 accepts only `union all` in a recursive CTE, so a walk
    visits a node once per path to it; a history with many merges between
    the two ends of a walk can take far longer than on the other engines.
-#}
{% macro spark__recursive_union() -%}
    union all
{%- endmacro %}


{#-
    dbt.listagg with its order kept on every engine: dbt-spark 1.11's
    listagg drops the order_by_clause, so Spark gets its own listagg ...
    within group, which Spark 4 supports.
-#}
{% macro ordered_listagg(measure, delimiter_text, order_by_clause) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'dora')(measure, delimiter_text, order_by_clause)) }}
{%- endmacro %}

{% macro default__ordered_listagg(measure, delimiter_text, order_by_clause) -%}
    {{ dbt.listagg(measure, delimiter_text, order_by_clause) }}
{%- endmacro %}

{#-
    A distinct listagg must be ordered by its own values. Spark 4.3's
    listagg(distinct ...) within group fails next to other aggregates, so
    those values come from a sorted set instead.
-#}
{% macro spark__ordered_listagg(measure, delimiter_text, order_by_clause) -%}
    {%- if measure.startswith('distinct ') -%}
        array_join(array_sort(collect_set({{ measure[9:] }})), {{ delimiter_text }})
    {%- else -%}
        listagg({{ measure }}, {{ delimiter_text }}) within group ({{ order_by_clause }})
    {%- endif -%}
{%- endmacro %}


{#-
    The first characters of a sha that an abbreviated sha is joined on: seven,
    git's default abbreviation. A join on this prefix is an equi-join, so it
    stays linear where a prefix comparison with every row would not.
    `has_full_sha_prefix` is true for a sha at least that long; a shorter
    abbreviation must be compared with every candidate.
-#}
{% macro sha_prefix(expression) -%}
    left({{ expression }}, 7)
{%- endmacro %}

{% macro has_full_sha_prefix(expression) -%}
    length({{ expression }}) >= 7
{%- endmacro %}
