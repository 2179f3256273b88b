{# The rows of every source of one kind (orders, events, tickets, ...), with
   `columns` and the person each row belongs to. A row belongs to the identity
   record named by its source_record_id in its identity source (its own
   source, or identity_source in cdp.yml); rows whose record is not an
   identity record (an anonymous receipt) keep person_id null. With no source
   of the kind, an empty relation with the columns' canonical types.
   With `only_keys_where` (a condition on a raw row's keys, see cdp_stage_source), only the
   rows whose grain key has a raw row meeting it, staged here from the raw rows. #}
{% macro cdp_kind_rows(kind, columns, only_keys_where=none) -%}
{%- set sources = [] -%}
{%- for name, src in var('cdp_sources').items() if src['kind'] == kind -%}
    {%- do sources.append(name) -%}
{%- endfor -%}
{%- for name in sources %}
{%- set src = var('cdp_sources')[name] %}
    select
        person_map.person_id,
        kind_rows.source,
        kind_rows.source_record_id,
        {%- for column in columns %}
        kind_rows.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    {%- if only_keys_where is none %}
    from {{ ref(src['model']) }} as kind_rows
    {%- else %}
    -- depends_on: {{ ref(src['model']) }}
    from ({{ cdp_stage_source(name, only_keys_where) }}) as kind_rows
    {%- endif %}
    left join {{ source('identity', 'person_map') }} as person_map
        on person_map.source = '{{ src['identity_source'] }}'
        and person_map.source_record_id = kind_rows.source_record_id
    {{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not sources %}
    {%- set types = var('cdp_canonical_fields').get(kind, {}) -%}
    {%- set empty_columns = {'person_id': 'varchar', 'source': 'varchar', 'source_record_id': 'varchar'} -%}
    {%- for column in columns %}{% do empty_columns.update({column: types.get(column, 'timestamp' if column == '_loaded_at' else 'varchar')}) %}{% endfor %}
    {{ cdp_empty_relation(empty_columns) }}
{%- endif %}
{%- endmacro %}

{# Just `columns` of every source of one kind (a partner's members, bought
   enrichment rows), with the source's name, unioned; with no source of the
   kind, an empty relation with the columns' canonical types. #}
{% macro cdp_kind_columns(kind, columns) -%}
{%- set models = [] -%}
{%- for name, src in var('cdp_sources').items() if src['kind'] == kind -%}
    {%- do models.append(src['model']) -%}
{%- endfor -%}
{%- for model in models %}
    select source, {{ columns | join(', ') }} from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not models %}
    {%- set types = var('cdp_canonical_fields').get(kind, {}) -%}
    {%- set empty_columns = {'source': 'varchar'} -%}
    {%- for column in columns %}{% do empty_columns.update({column: types.get(column, 'varchar')}) %}{% endfor %}
    {{ cdp_empty_relation(empty_columns) }}
{%- endif %}
{%- endmacro %}
