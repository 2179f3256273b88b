{# The body of every staging model: map a raw source's columns to the
   canonical fields declared for its kind (mapping from cdp.yml, passed in
   var cdp_sources), keep the latest version of each grain key, and normalise
   identifiers. Originals are kept beside normalised values. Money fields
   are DECIMAL(18, s) at the source's scale (its decimal contract columns). #}

{% macro cdp_sql_type(canonical_type, money_scale=2) -%}
    {%- if canonical_type == 'varchar' -%} {{ dbt.type_string() }}
    {%- elif canonical_type == 'decimal' -%} decimal(18, {{ money_scale }})
    {%- elif canonical_type == 'timestamp' -%} {{ dbt.type_timestamp() }}
    {%- elif canonical_type == 'integer' -%} {{ dbt.type_int() }}
    {%- elif canonical_type == 'double' -%} {{ dbt.type_float() }}
    {%- else -%} {{ canonical_type }}
    {%- endif -%}
{%- endmacro %}

{# A canonical field of a source's raw row, mapped and cast as its staging model does. #}
{% macro cdp_mapped_field(src, field, fields) -%}
    cast({{ src['mapping'].get(field, 'null') }} as {{ cdp_sql_type(fields[field], src.get('money_scale', 2)) }})
{%- endmacro %}

{# Each raw row of a source as its keys: source, grain_key (the staging model's grain),
   source_record_id and _loaded_at, mapped as the staging model maps them. #}
{% macro cdp_raw_keys(source_name) -%}
{%- set src = var('cdp_sources')[source_name] -%}
{%- set fields = var('cdp_canonical_fields')[src['kind']] -%}
    select
        _source as source,
        {{ cdp_mapped_field(src, src['grain'], fields) }} as grain_key,
        {{ cdp_mapped_field(src, 'source_record_id', fields) }} as source_record_id,
        _loaded_at
    from {{ source('raw', source_name) }}
{%- endmacro %}

{# `only_keys_where`: a condition on a raw row's keys (cdp_raw_keys, as `keys`). Then only the
   grain keys that have a raw row meeting it are staged: each still gets its latest version (all
   of its rows are read) and the normalisation runs on those rows only. The incremental models
   stage what they rebuild this way rather than read every row through the staging view. #}
{% macro cdp_stage_source(source_name, only_keys_where=none) %}
{%- set src = var('cdp_sources')[source_name] -%}
{%- set fields = var('cdp_canonical_fields')[src['kind']] -%}
{%- set identity_fields = var('cdp_identity_fields') -%}
{%- set cc = var('cdp_default_phone_country_code') -%}
with raw_rows as (

    select * from {{ source('raw', source_name) }}
    {%- if only_keys_where is not none %}
    where {{ cdp_mapped_field(src, src['grain'], fields) }} in (
        select keys.grain_key from ({{ cdp_raw_keys(source_name) }}) as keys
        where {{ only_keys_where }}
    )
    {%- endif %}

),

mapped as (

    select
        _source as source,
        _file,
        _file_sha256,
        _row_number,
        _loaded_at,
        {%- for field in fields %}
        {{ cdp_mapped_field(src, field, fields) }} as {{ field ~ ('_original' if field in identity_fields else '') }}{{ ',' if not loop.last }}
        {%- endfor %}
    from raw_rows

),

latest_version as (

    select
        *,
        row_number() over (
            partition by {{ src['grain'] ~ ('_original' if src['grain'] in identity_fields else '') }}
            order by updated_at desc, _loaded_at desc, _row_number desc
        ) as version_rank
    from mapped
    where {{ src['grain'] ~ ('_original' if src['grain'] in identity_fields else '') }} is not null

),

folded as (

    {#- Values read several times below, computed once: DuckDB plans each copy of a nested
        expression again (int_identity__records inlines this query for every source). #}
    select
        *,
        {{ cdp_fold_name('first_name_original') }} as first_name_folded,
        {{ cdp_normalise_country('country_original') }} as country_code
    from latest_version
    where version_rank = 1

),

normalised as (

    select
        *,
        {{ cdp_clean_text('first_name_original') }} as first_name,
        {{ cdp_first_name_of_folded('first_name_folded') }} as first_name_norm,
        {{ cdp_clean_text('last_name_original') }} as last_name,
        {{ cdp_fold_name('last_name_original') }} as last_name_norm,
        {{ cdp_normalise_email('email_original') }} as email,
        {{ cdp_phone_digits('phone_original', cdp_calling_code('country_code', cc)) }} as phone_digits,
        case
            when date_of_birth_original between cast('1900-01-01' as date) and cast(updated_at as date)
            then date_of_birth_original
        end as date_of_birth,
        {{ cdp_clean_text('address_line_original') }} as address_line,
        {{ cdp_fold('address_line_original') }} as address_line_norm,
        upper({{ cdp_clean_text('postcode_original') }}) as postcode,
        {{ cdp_normalise_postcode('postcode_original') }} as postcode_norm,
        {{ cdp_clean_text('city_original') }} as city,
        {{ cdp_clean_text('region_original') }} as region,
        country_code as country,
        {{ cdp_normalise_code('loyalty_id_original') }} as loyalty_id,
        {{ cdp_normalise_device_id('device_id_original') }} as device_id,
        {{ cdp_sex('sex_original') }} as sex
    from folded

)

select
    source,
    {%- for field in fields if field not in identity_fields %}
    {{ field }},
    {%- endfor %}
    first_name,
    first_name_norm,
    last_name,
    last_name_norm,
    email,
    {{ cdp_e164('phone_digits') }} as phone,
    date_of_birth,
    address_line,
    address_line_norm,
    postcode,
    postcode_norm,
    city,
    region,
    country,
    loyalty_id,
    device_id,
    sex,
    {%- for field in identity_fields %}
    {{ field }}_original,
    {%- endfor %}
    _file,
    _file_sha256,
    _row_number,
    _loaded_at
from normalised
{% endmacro %}
