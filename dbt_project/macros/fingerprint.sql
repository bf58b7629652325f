{#-
    Sample fingerprints: a 64-bit hash per row, summed over a window, tells
    an incremental build which windows have changed samples. A sum, unlike a
    bitwise xor, counts a repeated row twice, so it changes when one of two
    equal rows goes. Engines without such a hash give null row hashes, so
    their fingerprints are 0, and their models never extend a stored table
    (`has_row_hash`).
    NOTE: a fingerprint covers the samples, not the model's SQL. After a
    change to a metric formula, only a full refresh rewrites unchanged rows.
-#}
{% macro has_row_hash() -%}
    {{ return(adapter.dispatch('has_row_hash', 'dora')()) }}
{%- endmacro %}

{% macro default__has_row_hash() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro duckdb__has_row_hash() -%}
    {{ return(true) }}
{%- endmacro %}


{#- The hash of one row's `columns`, as an unsigned 64-bit integer, or null. -#}
{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'dora')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    cast(null as bigint)
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}


{#-
    A sum of row hashes folded into a bigint: the remainder modulo the
    largest prime below 2^63. DuckDB sums unsigned 64-bit values exactly as
    128-bit integers.
-#}
{% macro fold_hash_sum(expression) -%}
    cast(({{ expression }}) % 9223372036854775783 as bigint)
{%- endmacro %}
