{# Models land in the schema named in dbt_project.yml (staging, intermediate,
   marts), not "<target>_<schema>", so analysts find marts.dim_customer. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
