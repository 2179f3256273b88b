{# The rows of every source of one kind (orders, events, tickets, ...), with
   `columns` and the person each row belongs to. A row belongs to the identity
   record named by its source_record_id in its identity source (its own
   source, or identity_source in cdp.yml); rows whose record is not an
   identity record (an anonymous receipt) keep person_id null. #}
{% macro cdp_kind_rows(kind, columns) -%}
{%- set sources = [] -%}
{%- for name, src in var('cdp_sources').items() if src['kind'] == kind -%}
    {%- do sources.append(src) -%}
{%- endfor -%}
{%- for src in sources %}
    select
        person_map.person_id,
        kind_rows.source,
        kind_rows.source_record_id,
        {%- for column in columns %}
        kind_rows.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref(src['model']) }} as kind_rows
    left join {{ source('identity', 'person_map') }} as person_map
        on person_map.source = '{{ src['identity_source'] }}'
        and person_map.source_record_id = kind_rows.source_record_id
    {{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not sources %}
    select
        cast(null as {{ dbt.type_string() }}) as person_id,
        cast(null as {{ dbt.type_string() }}) as source,
        cast(null as {{ dbt.type_string() }}) as source_record_id,
        {%- for column in columns %}
        cast(null as {{ dbt.type_string() }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    where 1 = 0
{%- endif %}
{%- endmacro %}
