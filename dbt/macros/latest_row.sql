{# The first row of each partition of `relation` in `order_by` order (the
   latest row when ordered newest first), with `columns`. Written as a
   row_number() subquery rather than `qualify`: DuckDB and Databricks accept
   qualify, but Apache Spark only from 4.2, and dbt-spark runs on older ones. #}
{% macro cdp_latest_row(relation, columns, partition_by, order_by) -%}
    select {{ columns | join(', ') }}
    from (
        select
            {{ columns | join(', ') }},
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as cdp_row_rank
        from {{ relation }}
    ) as ranked
    where cdp_row_rank = 1
{%- endmacro %}
