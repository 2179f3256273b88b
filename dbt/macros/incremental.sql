{# Incremental models (int_identity__records, fct_orders, fct_events) keep the
   raw rows' _loaded_at. On an incremental run they rebuild only the keys that
   rows loaded since their last build touch, from every version of those keys,
   so each rebuilt key gets exactly the rows a full rebuild gives it; the
   strategy (engine_specific.sql) replaces those keys' rows. Rows loaded later
   always have a later _loaded_at than any row of the last build, so the
   newest _loaded_at in the model is a safe watermark (erased or superseded
   rows only lower it: then more keys are rebuilt, never fewer).
   `cdp run --full` passes --full-refresh, which rebuilds them whole. #}

{# Incremental, and the model already holds its marker column, _loaded_at or
   _inputs_fingerprint (a table built before the model became incremental does
   not: it is then rebuilt whole). #}
{% macro cdp_is_incremental(marker_column='_loaded_at') -%}
    {%- if not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(marker_column in columns) }}
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

{# Person-level marts (dim_customer, customer_identifiers, customer_consent)
   are incremental by person: each row keeps _inputs_fingerprint, an
   order-free hash (bit_xor of cdp_row_hash) of the versions of everything the person's rows are
   computed from (their records in identity.person_map, each record's latest
   version, and with consent their consent events). A run rebuilds the persons
   whose fingerprint differs from the stored one (new, changed, merged or
   split persons): a pre-hook deletes the rows of those and of the persons no
   longer in identity.person_map, then the model inserts the rows of those
   still there, so each person's rows are what a full rebuild gives. Nothing else they read
   changes between runs unless the models, seeds or cdp.yml change, and then
   the run is a full refresh (defs/dbt.py). #}

{# Each version of what a person's rows are computed from, as a hash (person_id, input_kind,
   input_hash): each of their records in identity.person_map with its latest version (file, row,
   load time), or (`consent_models`) each of their consent events. #}
{% macro cdp_person_input_hashes(consent_models=none) -%}
    {%- if consent_models is none %}
    select
        person_map.person_id,
        'record' as input_kind,
        {{ cdp_row_hash(["'record'", 'person_map.record_key', 'records._file', 'records._row_number', 'records._loaded_at']) }} as input_hash
    from {{ source('identity', 'person_map') }} as person_map
    left join {{ ref('int_identity__records') }} as records
        on records.record_key = person_map.record_key
    {%- else %}
    {%- for model in consent_models %}
    select
        person_map.person_id,
        'consent' as input_kind,
        {{ cdp_row_hash(["'consent'", 'events.source', 'events.consent_event_id', 'events._file', 'events._row_number', 'events._loaded_at']) }} as input_hash
    from {{ ref(model) }} as events
    inner join {{ source('identity', 'person_map') }} as person_map
        on person_map.source = events.source
        and person_map.source_record_id = events.source_record_id
    {{ 'union all' if not loop.last }}
    {%- else %}
    {{ cdp_empty_relation({'person_id': 'varchar', 'input_kind': 'varchar', 'input_hash': 'bigint'}) }}
    {%- endfor %}
    {%- endif %}
{%- endmacro %}

{# One row per person in identity.person_map: person_id, _inputs_fingerprint (of the records,
   and `with_consent` of the consent events too), as int_customer__input_fingerprints computed
   them once for this run (each mart reads them twice: in its pre-hook and its model). #}
{% macro cdp_person_fingerprints(with_consent=false) -%}
    select person_id, {{ 'records_and_consent_fingerprint' if with_consent else 'records_fingerprint' }} as _inputs_fingerprint
    from {{ ref('int_customer__input_fingerprints') }}
{%- endmacro %}

{# The persons of `fingerprints` (cdp_person_fingerprints) whose stored rows
   were computed from other inputs, or who have none yet. #}
{% macro cdp_persons_to_rebuild(fingerprints) -%}
    select fingerprints.person_id
    from {{ fingerprints }} as fingerprints
    where not exists (
        select 1 from {{ this }} as stored
        where stored.person_id = fingerprints.person_id
          and stored._inputs_fingerprint = fingerprints._inputs_fingerprint
    )
{%- endmacro %}

{# A person-level mart's pre-hook: delete the rows of every person whose stored fingerprint is
   not the current one: persons changed (the model inserts their rows again, if they still have
   any: a person left with no identifier has no customer_identifiers row) and persons no longer
   in identity.person_map (merged into another, erased). #}
{% macro cdp_delete_stale_persons(with_consent=false) -%}
{%- if cdp_is_incremental('_inputs_fingerprint') %}
delete from {{ this }} where not exists (
    select 1 from ({{ cdp_person_fingerprints(with_consent) }}) as fingerprints
    where fingerprints.person_id = {{ this }}.person_id
      and fingerprints._inputs_fingerprint = {{ this }}._inputs_fingerprint
)
{%- endif %}
{%- endmacro %}

{# The staging models of the consent sources. #}
{% macro cdp_consent_models() -%}
    {%- set models = [] -%}
    {%- for name, src in var('cdp_sources').items() if src['kind'] == 'consent' -%}
        {%- do models.append(src['model']) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}
