{# Incremental models (int_identity__records, fct_orders, fct_events) keep the
   raw rows' _loaded_at. On an incremental run they rebuild only the keys that
   rows loaded since their last build touch, from every version of those keys,
   so each rebuilt key gets exactly the rows a full rebuild gives it; the
   strategy (engine_specific.sql) replaces those keys' rows. Rows loaded later
   always have a later _loaded_at than any row of the last build, so the
   newest _loaded_at in the model is a safe watermark (erased or superseded
   rows only lower it: then more keys are rebuilt, never fewer).
   `cdp run --full` passes --full-refresh, which rebuilds them whole. #}

{# Incremental, and the model already holds _loaded_at (a table built before
   the model became incremental does not: it is then rebuilt whole). #}
{% macro cdp_is_incremental() -%}
    {%- if not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('_loaded_at' in columns) }}
{%- endmacro %}

{# A condition on a staging row: loaded since the model's last build. #}
{% macro cdp_loaded_since_last_build(loaded_at='_loaded_at') -%}
    {{ loaded_at }} > (select coalesce(max(_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}

{# The identity source whose record a row of `source_column` names
   (identity_source in cdp.yml; a source's own name otherwise). #}
{% macro cdp_identity_source_of(source_column) -%}
    case {{ source_column }}
        {%- for name, src in var('cdp_sources').items() %}
        when '{{ name }}' then '{{ src['identity_source'] }}'
        {%- endfor %}
    end
{%- endmacro %}

{# The (source, source_record_id) of the model's rows whose stored person_id
   is no longer the record's person in identity.person_map: identity merged,
   split or dropped the record this run. Their rows are rebuilt too. #}
{% macro cdp_records_with_a_new_person(record_column='source_record_id') -%}
    select distinct stored.source, stored.{{ record_column }} as source_record_id
    from {{ this }} as stored
    left join {{ source('identity', 'person_map') }} as person_map
        on person_map.source = {{ cdp_identity_source_of('stored.source') }}
        and person_map.source_record_id = stored.{{ record_column }}
    where stored.{{ record_column }} is not null
      and ((stored.person_id is null) <> (person_map.person_id is null)
           or stored.person_id <> person_map.person_id)
{%- endmacro %}

{# The source_record_ids of a source's raw rows loaded since the model's last
   build: read from the raw table (mapped as staging maps it), not the staging
   view, whose SQL would be planned a second time. Every version counts, so it
   holds at least the records whose latest version is new. #}
{% macro cdp_records_loaded_since_last_build(source_name) -%}
    {%- set src = var('cdp_sources')[source_name] -%}
    select cast({{ src['mapping']['source_record_id'] }} as {{ dbt.type_string() }}) as source_record_id
    from {{ source('raw', source_name) }}
    where {{ cdp_loaded_since_last_build() }}
{%- endmacro %}

{# int_identity__records' pre-hook: delete the records that rows loaded since
   its last build touch (the model then inserts those that still qualify). #}
{% macro cdp_delete_changed_identity_records() -%}
{%- set sources = [] -%}
{%- for name, src in var('cdp_sources').items() if src['has_identity_records'] -%}
    {%- do sources.append(name) -%}
{%- endfor -%}
{%- if sources and cdp_is_incremental() %}
delete from {{ this }} where record_key in (
    {%- for name in sources %}
    select {{ dbt.concat(["'" ~ name ~ "'", "':'", 'source_record_id']) }} from ({{ cdp_records_loaded_since_last_build(name) }}) as loaded
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)
{%- endif %}
{%- endmacro %}
