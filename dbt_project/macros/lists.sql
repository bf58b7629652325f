{#-
    Render a list of strings as SQL string literals separated by commas, for an
    `in (...)` list. An empty list renders as '' so the SQL stays valid.
-#}
{% macro sql_string_list(values) -%}
    {%- if values | length == 0 -%}
        ''
    {%- else -%}
        {%- for value in values -%}
            '{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
