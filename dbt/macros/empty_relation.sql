{# A relation with the given columns and no row: what a model reads in place
   of the sources of a kind that the workspace does not have (a person-only
   workspace has no orders, events, consent, ...). `columns` maps each column
   to its canonical type (dagster_project/canonical.py: varchar, timestamp,
   integer, decimal, date), so downstream arithmetic and comparisons see the
   same types as when the sources exist. Portable SQL: a select without FROM
   that keeps no row. #}
{% macro cdp_empty_relation(columns) -%}
    select
        {%- for column, canonical_type in columns.items() %}
        cast(null as {{ cdp_sql_type(canonical_type) }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    where 1 = 0
{%- endmacro %}
