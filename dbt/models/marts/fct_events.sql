{# Every behavioural event with its person and session. An event belongs to
   its device's identity record; once a login ties the device to an account
   the device joins the account's person, so all of the device's events are
   attributed to that person, including those from before the login
   (is_pre_login). Events more than traits.session_gap_minutes apart start a
   new session of the device.
   Incremental (macros/incremental.sql): sessions are per device, so a run
   rebuilds every event of each device that has events loaded since the last
   build (or had one of them before its new version), or whose person
   changed. #}
{{ config(materialized=cdp_incremental_materialization(), unique_key='event_key', incremental_strategy=cdp_incremental_strategy(),
          on_schema_change='append_new_columns') }}
{%- set session_gap = var('cdp_traits').get('session_gap_minutes', 30) %}

{%- set columns = ['event_id', 'event_type', 'event_at', 'page_url', 'product_id', 'category',
                    'platform', 'account_ref', '_loaded_at'] %}
{% if cdp_is_incremental() -%}
{#- The events loaded since the last build, from the raw rows (every version counts: more
    devices may be rebuilt, never fewer). #}
with new_events as (
    {%- for name, src in var('cdp_sources').items() if src['kind'] == 'events' %}
    select keys.source, keys.source_record_id, keys.grain_key as event_id
    from ({{ cdp_raw_keys(name) }}) as keys
    where {{ cdp_loaded_since_last_build('keys._loaded_at') }}
    {{ 'union all' if not loop.last }}
    {%- else %}
    {{ cdp_empty_relation({'source': 'varchar', 'source_record_id': 'varchar', 'event_id': 'varchar'}) }}
    {%- endfor %}
),

devices_to_rebuild as (
    select source, source_record_id from new_events
    union
    select stored.source, stored.device_record_id
    from {{ this }} as stored
    join new_events on new_events.source = stored.source and new_events.event_id = stored.event_id
    union
    {{ cdp_records_with_a_new_person('device_record_id') }}
),

{#- Every event of those devices (staged from their raw rows, not through the staging views). #}
{%- set of_a_device_to_rebuild -%}
    exists (select 1 from devices_to_rebuild as device
            where device.source = {0}.source
              -- events without a device share one partition of the sessions, as in a full build
              and device.source_record_id is not distinct from {0}.source_record_id)
{%- endset %}
events as (
    select * from ({{ cdp_kind_rows('events', columns, only_keys_where=of_a_device_to_rebuild.replace('{0}', 'keys')) }}) as staged
    where {{ of_a_device_to_rebuild.replace('{0}', 'staged') }}
),
{%- else -%}
with events as (
    {{ cdp_kind_rows('events', columns) }}
),
{%- endif %}

with_gaps as (

    select
        *,
        lag(event_at) over (partition by source, source_record_id order by event_at, event_id) as previous_event_at,
        min(case when event_type = 'login' and account_ref is not null then event_at end)
            over (partition by source, source_record_id) as device_first_login_at
    from events

),

sessions as (

    select
        *,
        sum(case
                when previous_event_at is null then 1
                when {{ dbt.datediff('previous_event_at', 'event_at', 'minute') }} > {{ session_gap }} then 1
                else 0
            end) over (
                partition by source, source_record_id
                order by event_at, event_id
                rows between unbounded preceding and current row
            ) as session_number
    from with_gaps

)

select
    {{ dbt.concat(['sessions.source', "':'", 'sessions.event_id']) }} as event_key,
    sessions.person_id,
    sessions.source,
    sessions.source_record_id as device_record_id,
    sessions.event_id,
    sessions.event_type,
    sessions.event_at,
    cast(sessions.event_at as date) as event_date,
    sessions.page_url,
    sessions.product_id,
    sessions.category,
    sessions.platform,
    sessions.account_ref,
    {{ dbt.concat(['sessions.source', "':'", 'sessions.source_record_id', "':'", dbt.cast('sessions.session_number', dbt.type_string())]) }} as session_id,
    sessions.session_number,
    sessions.device_first_login_at,
    sessions.device_first_login_at is not null
        and sessions.event_at < sessions.device_first_login_at as is_pre_login,
    sessions._loaded_at
from sessions
