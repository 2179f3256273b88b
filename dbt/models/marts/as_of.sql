{# The moment traits and scores are computed for: the newest activity in the
   warehouse (traits.as_of: latest_data, reproducible on historic files) or
   the run time (today). One row. #}
{%- if var('cdp_traits').get('as_of', 'latest_data') == 'today' %}
select cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as as_of_at
{%- else %}
with activity as (
    select max(ordered_at) as latest_at from {{ ref('fct_orders') }}
    union all
    select max(event_at) from {{ ref('fct_events') }}
    union all
    select max(opened_at) from {{ ref('fct_service_tickets') }}
    union all
    select max(answered_at) from {{ ref('fct_survey_responses') }}
    union all
    select max(responded_at) from {{ ref('fct_campaign_responses') }}
)

select coalesce(max(latest_at), cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})) as as_of_at
from activity
{%- endif %}
