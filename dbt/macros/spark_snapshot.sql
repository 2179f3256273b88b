{# dbt snapshots on Apache Spark without Delta (issue 18). dbt-spark's own
   snapshot materialization needs Delta, Iceberg or Hudi tables (MERGE); with
   Parquet tables (Spark's default here: no Delta jars needed) this one
   rewrites the history instead: a new table holds the old rows, with
   dbt_valid_to set on the rows that changed or went (hard_deletes
   invalidate), plus the new rows, and is then renamed over the old one. The
   same rows as MERGE gives, at the cost of rewriting the history each run.
   A table in Delta, Iceberg or Hudi (file_format in the snapshot's config)
   is merged as dbt-spark does. Only used by dbt-spark: DuckDB keeps dbt's. #}

{% materialization snapshot, adapter='spark' %}
  {%- set file_format = config.get('file_format') or 'parquet' -%}
  {%- set strategy_name = config.get('strategy') -%}
  {%- set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() -%}
  {% set target_relation_exists, target_relation = get_or_create_relation(
          database=none, schema=model.schema, identifier=model.get('alias', model.get('name')), type='table') -%}

  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(model.schema) %}
  {% endif %}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set strategy = strategy_dispatch(strategy_name)(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) %}

  {% if not target_relation_exists %}
    {% call statement('main') %}
      {{ create_table_as(False, target_relation, build_snapshot_table(strategy, model['compiled_code'])) }}
    {% endcall %}
  {% else %}
    {{ adapter.valid_snapshot_target(target_relation, columns) }}
    {% set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) %}
    {% set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
                             | rejectattr('name', 'in', ['dbt_change_type', 'DBT_CHANGE_TYPE', 'dbt_unique_key', 'DBT_UNIQUE_KEY'])
                             | list %}
    {% do create_columns(target_relation, missing_columns) %}
    {% set target_columns = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | list %}
    {% if file_format in ['delta', 'iceberg', 'hudi'] %}
      {% call statement('main') %}
        {{ snapshot_merge_sql(target=target_relation, source=staging_table, insert_cols=target_columns) }}
      {% endcall %}
    {% else %}
      {% do cdp_rewrite_snapshot(target_relation, staging_table, target_columns, columns) %}
    {% endif %}
    {% do post_snapshot(staging_table) %}
  {% endif %}

  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{# The history rewritten with the staged changes (MERGE's rows) as a new
   Parquet table, renamed over `target`; the old table is dropped last. #}
{% macro cdp_rewrite_snapshot(target, staging, target_columns, names) %}
  {% set rewritten = target.incorporate(path={'identifier': target.identifier ~ '__dbt_rewrite'}) %}
  {% set previous = target.incorporate(path={'identifier': target.identifier ~ '__dbt_previous'}) %}
  {% do adapter.drop_relation(rewritten) %}
  {% do adapter.drop_relation(previous) %}
  {% call statement('main') %}
    create table {{ rewritten }} using parquet as
    select
      {%- for column in target_columns %}
        {% if column == names.dbt_valid_to -%}
          coalesce(changes.{{ names.dbt_valid_to }}, history.{{ column }}) as {{ column }}
        {%- else -%}
          history.{{ column }}
        {%- endif %}{{ ',' if not loop.last }}
      {%- endfor %}
    from {{ target }} as history
    left join (
        select {{ names.dbt_scd_id }}, {{ names.dbt_valid_to }} from {{ staging }}
        where dbt_change_type in ('update', 'delete')
    ) as changes
      on changes.{{ names.dbt_scd_id }} = history.{{ names.dbt_scd_id }} and history.{{ names.dbt_valid_to }} is null
    union all
    select {{ target_columns | join(', ') }} from {{ staging }} where dbt_change_type = 'insert'
  {% endcall %}
  {% do adapter.rename_relation(target, previous) %}
  {% do adapter.rename_relation(rewritten, target) %}
  {% do adapter.drop_relation(previous) %}
{% endmacro %}
