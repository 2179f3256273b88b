{# Money is exact: DECIMAL from raw tables to exports, never DOUBLE.
   cdp_money rounds an amount (a sum, an average, a conversion) half away
   from zero to `scale` decimals and gives it the one money type; the same
   SQL runs on DuckDB and Spark. Reporting-currency figures use scale 2. #}
{% macro cdp_money(expression, scale=2) -%}
    cast(round({{ expression }}, {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}
