{# The only engine-specific SQL in the project. Each macro has a DuckDB
   implementation and a default that Spark SQL (dbt-spark) understands. #}

{# Replace every match of a regular expression. #}
{% macro cdp_regex_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('cdp_regex_replace_all', 'cdp')(expression, pattern, replacement)) }}
{%- endmacro %}
{% macro duckdb__cdp_regex_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}
{% macro default__cdp_regex_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{# Whether a value matches a regular expression (anywhere). #}
{% macro cdp_regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('cdp_regex_matches', 'cdp')(expression, pattern)) }}
{%- endmacro %}
{% macro duckdb__cdp_regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}
{% macro default__cdp_regex_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ pattern }}')
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
