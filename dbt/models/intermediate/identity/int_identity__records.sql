{# Every identity-bearing record of every source in one canonical shape: one
   row per (source, source_record_id). A source's record is the latest version
   of its source_record_id (a contact, an account, a receipt, a device).
   Records with no identifying value at all (an anonymous receipt) are left
   out: there is nothing to resolve. Sources whose rows belong to another
   source's records (identity_source in cdp.yml) add no records.
   A generational suffix written after the last name ("Smith Jr", "Smith
   III") is kept apart in name_suffix: it tells a parent from a child of the
   same name, and the last name matches without it. British and long forms
   (Jnr, Snr, Junior, Senior) are read as Jr and Sr.
   Incremental (macros/incremental.sql): a run rebuilds the records that rows
   loaded since the last build touch; the pre-hook first deletes them, so a
   record whose new latest version has no identifying value leaves. #}
{{ config(materialized=cdp_incremental_materialization(), unique_key='record_key', incremental_strategy=cdp_incremental_strategy(),
          on_schema_change='append_new_columns', pre_hook="{{ cdp_delete_changed_identity_records() }}") }}
{%- set suffixes = {'jr': 'jr', 'jnr': 'jr', 'junior': 'jr', 'sr': 'sr', 'snr': 'sr', 'senior': 'sr',
                    'ii': 'ii', 'iii': 'iii', 'iv': 'iv'} -%}
{#- Incremental: the changed records are staged from their raw rows here rather than read
    through the staging view, whose window and normalisation would run on every raw row. #}
{%- set incremental = cdp_is_incremental() -%}
{%- set identity_sources = [] -%}
{%- for name, src in var('cdp_sources').items() if src['has_identity_records'] -%}
    {%- do identity_sources.append(name) -%}
{%- endfor %}

with all_versions as (
    {%- for name in identity_sources %}
    {%- set src = var('cdp_sources')[name] %}

    select
        source,
        source_record_id,
        first_name, first_name_norm, last_name, last_name_norm,
        email, phone, date_of_birth,
        address_line, address_line_norm, postcode, postcode_norm, city, region, country,
        loyalty_id, device_id, sex,
        updated_at, _loaded_at, _file, _row_number
    {%- if incremental %}
    -- depends_on: {{ ref(src['model']) }}
    {%- set loaded = cdp_records_loaded_since_last_build(name) %}
    from ({{ cdp_stage_source(name, only_keys_where='keys.source_record_id in (' ~ loaded ~ ')') }}) as staged
    where source_record_id is not null
      and source_record_id in ({{ loaded }})
    {%- else %}
    from {{ ref(src['model']) }}
    where source_record_id is not null
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

placeholders as (

    select name, applies_to from {{ ref('placeholder_names') }}

),

named as (

    select
        source, source_record_id,
        case when first_placeholder.name is null then first_name end as first_name,
        case when first_placeholder.name is null then first_name_norm end as first_name_norm,
        case when last_placeholder.name is null then last_name end as last_name,
        -- A one-letter last name is an initial: no evidence for or against a surname.
        case when last_placeholder.name is null and {{ dbt.length('last_name_norm') }} > 1 then last_name_norm end
            as last_name_norm,
        email, phone, date_of_birth,
        address_line, address_line_norm, postcode, postcode_norm, city, region, country,
        loyalty_id, device_id, sex,
        updated_at, _loaded_at, _file, _row_number
    from all_versions
    left join placeholders as first_placeholder
        on first_placeholder.name = all_versions.first_name_norm and first_placeholder.applies_to in ('first', 'any')
    left join placeholders as last_placeholder
        on last_placeholder.name = all_versions.last_name_norm and last_placeholder.applies_to in ('last', 'any')

),

nicknames as (

    select nickname, min(canonical) as canonical
    from {{ ref('nicknames') }}
    group by nickname

),

with_suffix as (

    select
        *,
        case
            {%- for written, suffix in suffixes.items() %}
            when last_name_norm like '% {{ written }}' then '{{ suffix }}'
            {%- endfor %}
        end as name_suffix,
        case
            {%- for written in suffixes %}
            when last_name_norm like '% {{ written }}' then {{ written | length }}
            {%- endfor %}
        end as suffix_length
    from named

),

ranked as (

    select
        *,
        row_number() over (
            partition by source, source_record_id
            order by updated_at desc, _loaded_at desc, _row_number desc
        ) as version_rank
    from with_suffix

)

select
    {{ dbt.concat(['source', "':'", 'source_record_id']) }} as record_key,
    source,
    source_record_id,
    first_name, first_name_norm,
    coalesce(nicknames.canonical, first_name_norm) as first_name_canonical,
    -- A name of the nickname list (as a nickname or a full name) is a real
    -- name, not a typo: identity resolution tells real names apart strictly.
    first_name_norm is not null
        and (nicknames.canonical is not null
             or first_name_norm in (select canonical from nicknames)
             or first_name_norm in (select canonical from {{ ref('nickname_alternates') }})) as first_name_listed,
    last_name,
    case
        when name_suffix is not null
        then substring(last_name_norm, 1, {{ dbt.length('last_name_norm') }} - suffix_length - 1)
        else last_name_norm
    end as last_name_norm,
    name_suffix,
    email, phone, date_of_birth,
    address_line, address_line_norm, postcode, postcode_norm, city, region, country,
    loyalty_id, device_id, sex,
    updated_at,
    _file,
    _row_number,
    _loaded_at
from ranked
left join nicknames on nicknames.nickname = ranked.first_name_norm
where version_rank = 1
  and coalesce(email, phone, loyalty_id, device_id, last_name_norm, first_name_norm, address_line_norm) is not null
