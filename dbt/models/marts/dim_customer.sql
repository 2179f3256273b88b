{# The golden record: one row per person. Each attribute (or group of fields
   that belong together, like an address) takes its value from the one record
   of the person that its survivorship rule ranks first, and records that
   record's source and update time. Rules: golden_record in cdp.yml.
   Incremental by person (macros/incremental.sql): a run rebuilds the persons
   whose records changed. #}
{{ config(materialized=cdp_incremental_materialization(), unique_key='person_id', incremental_strategy=cdp_incremental_strategy(),
          on_schema_change='append_new_columns', pre_hook="{{ cdp_delete_stale_persons() }}") }}
{%- set attributes = var('cdp_survivorship')['attributes'] -%}
{%- set identity_fields = ['first_name', 'last_name', 'email', 'phone', 'date_of_birth', 'address_line',
                           'postcode', 'city', 'region', 'country', 'loyalty_id'] -%}

with fingerprints as (

    {{ cdp_person_fingerprints() }}

),

records as (

    select
        records.*,
        person_map.person_id,
        {{ cdp_trust_rank('records.source') }} as trust_rank,
        {{ cdp_filled_count(identity_fields) }} as record_completeness
    from {{ ref('int_identity__records') }} as records
    inner join {{ source('identity', 'person_map') }} as person_map
        on person_map.record_key = records.record_key
    {%- if cdp_is_incremental('_inputs_fingerprint') %}
    where person_map.person_id in ({{ cdp_persons_to_rebuild('fingerprints') }})
    {%- endif %}

),

people as (

    select
        person_id,
        count(*) as record_count,
        count(distinct source) as source_count,
        min(updated_at) as first_seen_at,
        max(updated_at) as last_updated_at,
        max(case when coalesce(email, phone, loyalty_id, last_name, address_line) is not null then 1 else 0 end) as known_flag
    from records
    group by person_id

),
{%- for attribute in attributes %}

survivor_{{ attribute['name'] }} as (

    select *
    from (
        select
            person_id,
            source,
            updated_at,
            {%- for field in attribute['fields'] %}
            {{ field }},
            {%- endfor %}
            row_number() over (
                partition by person_id
                order by {{ cdp_survivor_order(attribute['rule'], attribute['fields']) }}
            ) as survivor_rank
        from records
        where coalesce({{ attribute['fields'] | join(', ') }}) is not null
    ) as ranked
    where survivor_rank = 1

){{ ',' if not loop.last }}
{%- endfor %}

select
    people.person_id,
    {%- for attribute in attributes %}
    {%- for field in attribute['fields'] %}
    survivor_{{ attribute['name'] }}.{{ field }},
    survivor_{{ attribute['name'] }}.source as {{ field }}_source,
    survivor_{{ attribute['name'] }}.updated_at as {{ field }}_updated_at,
    {%- endfor %}
    {%- endfor %}
    people.known_flag = 1 as is_known,
    people.record_count,
    people.source_count,
    people.first_seen_at,
    people.last_updated_at,
    fingerprints._inputs_fingerprint
from people
inner join fingerprints
    on fingerprints.person_id = people.person_id
{%- for attribute in attributes %}
left join survivor_{{ attribute['name'] }}
    on survivor_{{ attribute['name'] }}.person_id = people.person_id
{%- endfor %}
