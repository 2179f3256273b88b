{# Consent per person and purpose: the latest consent event across all of the
   person's records and sources wins (a withdrawal wins a tie); a person with
   no event for a purpose gets the purpose's default from cdp.yml. #}
{%- set consent_models = [] -%}
{%- for name, src in var('cdp_sources').items() if src['kind'] == 'consent' -%}
    {%- do consent_models.append(src['model']) -%}
{%- endfor %}

with purposes as (
    {%- for purpose, state in var('cdp_consent_defaults').items() %}
    select '{{ purpose }}' as purpose, '{{ state }}' as default_status
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

people as (

    select distinct person_id from {{ source('identity', 'person_map') }}

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
    latest_event.person_id is null as is_default
from people
cross join purposes
left join latest_event
    on latest_event.person_id = people.person_id
    and latest_event.purpose = purposes.purpose
