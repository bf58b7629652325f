{#-
    Incremental models: delete+insert by key on DuckDB and PostgreSQL. Spark
    saves local tables as Parquet files, which support no delete or merge, so
    there the same models are plain tables rebuilt on every run.
-#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'dora')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}


{#-
    True when this build extends the model's stored table: an incremental
    build whose table already has every one of `columns`. A table built
    before a column was added is rebuilt whole once.
-#}
{% macro extends_stored_table(columns) -%}
    {%- set state = namespace(ready=is_incremental()) -%}
    {#- The linter's stand-in adapter has no catalog: it lints the incremental branch. -#}
    {%- if state.ready and adapter.get_columns_in_relation is defined -%}
        {%- set stored = adapter.get_columns_in_relation(this) | map(attribute='name') -%}
        {%- set stored = stored | map('lower') | list -%}
        {%- for column in columns if column | lower not in stored -%}
            {%- set state.ready = false -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(state.ready) }}
{%- endmacro %}


{#-
    Post-hook of an incremental model: delete the stored rows whose key no
    longer occurs in any of the models `model_names`, because delete+insert
    only replaces keys that the new rows carry. `kept_keys` names the key
    columns in those models when they differ from `keys` (same order). Does
    nothing on a plain table, which every build replaces whole.
-#}
{% macro delete_missing_keys(model_names, keys, kept_keys=none) -%}
    {%- set kept_keys = kept_keys or keys -%}
    {%- if model.config.materialized == 'incremental' -%}
        delete from {{ this }}
        where
        {%- for name in model_names %}
            {% if not loop.first %}and {% endif %}not exists (
                select 1 from {{ ref(name) }} as kept
                where
            {%- for key in keys %}
                {% if not loop.first %}and {% endif -%}
                kept.{{ kept_keys[loop.index0] }} = {{ this.identifier }}.{{ key }}
            {%- endfor %}
            )
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}


{#-
    Post-hook of dora_daily: delete the stored rows outside its spine. The
    spine has every service with a sample, on every local date from the
    first sample's to that of as_of.
-#}
{% macro delete_days_off_spine() -%}
    {%- if model.config.materialized == 'incremental' -%}
        {%- set samples = ref('dora_daily__samples') -%}
        delete from {{ this }}
        where
            not exists (
                select 1 from {{ samples }} as kept
                where kept.service = {{ this.identifier }}.service
            )
            or metric_date < (select min(metric_date) from {{ samples }})
            or metric_date > {{ local_date(as_of_timestamp()) }}
    {%- endif -%}
{%- endmacro %}
