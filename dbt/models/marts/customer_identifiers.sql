{# Every identifier known for a person, not only the golden record's winner:
   all emails, phones, postal addresses, loyalty cards and devices, with the
   sources that carry each, when it was first and last seen, and whether it is
   the golden record's value (is_primary). Incremental by person
   (macros/incremental.sql), like dim_customer: the same inputs. #}
{{ config(materialized=cdp_incremental_materialization(), unique_key='person_id', incremental_strategy=cdp_incremental_strategy(),
          on_schema_change='append_new_columns', pre_hook="{{ cdp_delete_stale_persons() }}") }}
{%- set identifier_types = {
    'email': 'email',
    'phone': 'phone',
    'loyalty_id': 'loyalty_id',
    'device_id': 'device_id',
} -%}

with fingerprints as (

    {{ cdp_person_fingerprints() }}

),

records as (

    select records.*, person_map.person_id
    from {{ ref('int_identity__records') }} as records
    inner join {{ source('identity', 'person_map') }} as person_map
        on person_map.record_key = records.record_key
    {%- if cdp_is_incremental('_inputs_fingerprint') %}
    where person_map.person_id in ({{ cdp_persons_to_rebuild('fingerprints') }})
    {%- endif %}

),

identifiers as (
    {%- for type, column in identifier_types.items() %}

    select person_id, '{{ type }}' as identifier_type, {{ column }} as identifier_value, source, updated_at
    from records
    where {{ column }} is not null
    union all
    {%- endfor %}

    select
        person_id,
        'address' as identifier_type,
        {{ dbt.concat([
            'address_line', "', '",
            "coalesce(postcode, '')", "', '",
            "coalesce(city, '')", "', '",
            "coalesce(country, '')"]) }} as identifier_value,
        source,
        updated_at
    from records
    where address_line is not null

),

golden as (

    select
        person_id,
        email,
        phone,
        loyalty_id,
        case when address_line is not null then
            {{ dbt.concat([
                'address_line', "', '",
                "coalesce(postcode, '')", "', '",
                "coalesce(city, '')", "', '",
                "coalesce(country, '')"]) }}
        end as address
    from {{ ref('dim_customer') }}

),

-- Aggregated before the per-person columns join: grouping by the three keys alone is about
-- a third cheaper than grouping by the golden values and fingerprint too.
aggregated as (

    select
        person_id,
        identifier_type,
        identifier_value,
        count(*) as record_count,
        count(distinct source) as source_count,
        {{ cdp_listagg_sorted('source', 'source', "', '", distinct=true) }} as sources,
        min(updated_at) as first_seen_at,
        max(updated_at) as last_seen_at
    from identifiers
    group by person_id, identifier_type, identifier_value

)

select
    aggregated.person_id,
    aggregated.identifier_type,
    aggregated.identifier_value,
    coalesce(
        (aggregated.identifier_type = 'email' and aggregated.identifier_value = golden.email)
        or (aggregated.identifier_type = 'phone' and aggregated.identifier_value = golden.phone)
        or (aggregated.identifier_type = 'loyalty_id' and aggregated.identifier_value = golden.loyalty_id)
        or (aggregated.identifier_type = 'address' and aggregated.identifier_value = golden.address),
        false
    ) as is_primary,
    aggregated.record_count,
    aggregated.source_count,
    aggregated.sources,
    aggregated.first_seen_at,
    aggregated.last_seen_at,
    fingerprints._inputs_fingerprint
from aggregated
inner join fingerprints on fingerprints.person_id = aggregated.person_id
left join golden on golden.person_id = aggregated.person_id
