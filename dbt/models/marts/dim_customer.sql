{# The golden record: one row per person. Each attribute takes the most
   recently updated non-empty value among the person's records, and records
   which source it came from. #}
{%- set attributes = ['first_name', 'last_name', 'email', 'phone', 'date_of_birth', 'address_line',
                      'postcode', 'city', 'region', 'country', 'loyalty_id'] -%}

with records as (

    select
        records.*,
        person_map.person_id
    from {{ ref('int_identity__records') }} as records
    inner join {{ source('identity', 'person_map') }} as person_map
        on person_map.record_key = records.record_key

)

select
    person_id,
    {%- for attribute in attributes %}
    {{ cdp_latest_value(attribute, 'updated_at', 'record_key') }} as {{ attribute }},
    {{ cdp_latest_value('source', 'updated_at', 'record_key', when_present=attribute) }} as {{ attribute }}_source,
    {%- endfor %}
    count(*) as record_count,
    count(distinct source) as source_count,
    min(updated_at) as first_seen_at,
    max(updated_at) as last_updated_at
from records
group by person_id
