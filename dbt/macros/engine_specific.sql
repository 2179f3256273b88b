{# The only engine-specific SQL in the project (with spark_snapshot.sql, dbt's
   snapshot materialization for Parquet tables on Spark). Each macro has a DuckDB
   implementation and a default that Spark SQL (dbt-spark) understands. #}

{# The text of a DuckDB string literal (quote doubled) as a Spark SQL one:
   Spark reads backslash escapes in literals ('\s' would be 's') and takes
   '' as the end of one literal and the start of the next. #}
{% macro cdp_spark_literal(text) -%}
    {{ text | replace('\\', '\\\\') | replace("''", "\\'") }}
{%- endmacro %}

{# Replace every match of a regular expression. #}
{% macro cdp_regex_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('cdp_regex_replace_all', 'cdp')(expression, pattern, replacement)) }}
{%- endmacro %}
{% macro duckdb__cdp_regex_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}
{% macro default__cdp_regex_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ cdp_spark_literal(pattern) }}', '{{ replacement }}')
{%- endmacro %}

{# Whether a value matches a regular expression (anywhere). #}
{% macro cdp_regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('cdp_regex_matches', 'cdp')(expression, pattern)) }}
{%- endmacro %}
{% macro duckdb__cdp_regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}
{% macro default__cdp_regex_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ cdp_spark_literal(pattern) }}')
{%- endmacro %}

{# Lower case with accents removed: José -> jose, Müller -> muller. #}
{% macro cdp_strip_accents(expression) -%}
    {{ return(adapter.dispatch('cdp_strip_accents', 'cdp')(expression)) }}
{%- endmacro %}
{% macro duckdb__cdp_strip_accents(expression) -%}
    {#- strip_accents leaves letters that are not a base letter plus a mark (ł, ø, ß, æ). -#}
    replace(replace(replace(translate(strip_accents(lower({{ expression }})), 'łøđðþı', 'loddti'), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe')
{%- endmacro %}
{% macro default__cdp_strip_accents(expression) -%}
    translate(lower({{ expression }}),
        'àáâãäåāçćčèéêëēėęìíîïīįłñńòóôõöøōùúûüūÿýžźż',
        'aaaaaaaccceeeeeeeiiiiiilnnoooooooouuuuuyyzzz')
{%- endmacro %}

{# How an incremental model replaces the rows it rebuilds (by unique_key):
   dbt-duckdb deletes then inserts; dbt-spark merges (Delta tables). #}
{% macro cdp_incremental_strategy() -%}
    {{ return(adapter.dispatch('cdp_incremental_strategy', 'cdp')()) }}
{%- endmacro %}
{% macro duckdb__cdp_incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}
{% macro default__cdp_incremental_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

{# How the incremental models (macros/incremental.sql) are materialized. On
   Apache Spark dbt-spark replaces keys only in Delta tables (MERGE); until
   the tables are Delta (issue 18, a later phase) Spark rebuilds them whole,
   which gives the same rows. #}
{% macro cdp_incremental_materialization() -%}
    {{ return(adapter.dispatch('cdp_incremental_materialization', 'cdp')()) }}
{%- endmacro %}
{% macro default__cdp_incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}
{% macro spark__cdp_incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{# The values of a group joined by `delimiter` in ascending `sort_key` order
   (each distinct value once if `distinct`). dbt-spark's listagg ignores the
   order, so Spark sorts the collected (key, value) pairs. #}
{% macro cdp_listagg_sorted(measure, sort_key, delimiter, distinct=false) -%}
    {{ return(adapter.dispatch('cdp_listagg_sorted', 'cdp')(measure, sort_key, delimiter, distinct)) }}
{%- endmacro %}
{% macro default__cdp_listagg_sorted(measure, sort_key, delimiter, distinct) -%}
    {{ dbt.listagg(('distinct ' if distinct else '') ~ measure, delimiter, 'order by ' ~ sort_key) }}
{%- endmacro %}
{% macro spark__cdp_listagg_sorted(measure, sort_key, delimiter, distinct) -%}
    array_join(transform(array_sort({{ 'collect_set' if distinct else 'collect_list' }}(
        named_struct('sort_key', {{ sort_key }}, 'value', {{ measure }}))), pair -> pair.value), {{ delimiter }})
{%- endmacro %}

{# A 64-bit hash of a row's columns (nulls hash too); bit_xor of such hashes is an
   aggregate hash of a group's rows that ignores their order. #}
{% macro cdp_row_hash(columns) -%}
    {{ return(adapter.dispatch('cdp_row_hash', 'cdp')(columns)) }}
{%- endmacro %}
{% macro default__cdp_row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__cdp_row_hash(columns) -%}
    xxhash64({{ columns | join(', ') }})
{%- endmacro %}
