{# Consent per person and purpose: the latest consent event across all of the
   person's records and sources wins (a withdrawal wins a tie); a person with
   no event for a purpose gets the purpose's default from cdp.yml.
   Incremental by person (macros/incremental.sql): a run rebuilds the persons
   whose records or consent events changed. #}
{{ config(materialized=cdp_incremental_materialization(), unique_key='person_id', incremental_strategy=cdp_incremental_strategy(),
          on_schema_change='append_new_columns', pre_hook="{{ cdp_delete_stale_persons(with_consent=true) }}") }}
{%- set consent_models = cdp_consent_models() %}

with purposes as (
    {%- for purpose, state in var('cdp_consent_defaults').items() %}
    select '{{ purpose }}' as purpose, '{{ state }}' as default_status
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

fingerprints as (

    {{ cdp_person_fingerprints(with_consent=true) }}

),

people as (

    select person_id, _inputs_fingerprint from fingerprints
    {%- if cdp_is_incremental('_inputs_fingerprint') %}
    where person_id in ({{ cdp_persons_to_rebuild('fingerprints') }})
    {%- endif %}

),

consent_events as (
    {%- for model in consent_models %}

    select
        person_map.person_id,
        events.purpose,
        events.status,
        events.channel,
        events.event_at,
        events.source,
        events.source_record_id,
        events.consent_event_id
    from {{ ref(model) }} as events
    inner join {{ source('identity', 'person_map') }} as person_map
        on person_map.source = events.source
        and person_map.source_record_id = events.source_record_id
    {%- if cdp_is_incremental('_inputs_fingerprint') %}
    where person_map.person_id in (select person_id from people)
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- if not consent_models %}
    {{ cdp_empty_relation({'person_id': 'varchar', 'purpose': 'varchar', 'status': 'varchar', 'channel': 'varchar',
                           'event_at': 'timestamp', 'source': 'varchar', 'source_record_id': 'varchar',
                           'consent_event_id': 'varchar'}) }}
    {%- endif %}

),

latest_event as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by person_id, purpose
                order by event_at desc, case when status = 'withdrawn' then 0 else 1 end, consent_event_id desc
            ) as event_rank
        from consent_events
    ) as ranked
    where event_rank = 1

)

select
    people.person_id,
    purposes.purpose,
    coalesce(latest_event.status, purposes.default_status) as status,
    latest_event.event_at as status_at,
    latest_event.channel,
    latest_event.source,
    latest_event.source_record_id,
    latest_event.person_id is null as is_default,
    people._inputs_fingerprint
from people
cross join purposes
left join latest_event
    on latest_event.person_id = people.person_id
    and latest_event.purpose = purposes.purpose
