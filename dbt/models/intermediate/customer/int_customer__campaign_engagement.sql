{# The closed loop: each person's campaign responses in the traits.recent_days
   (cdp.yml) before as_of. #}
{%- set recent_days = var('cdp_traits').get('recent_days', 30) %}

select
    responses.person_id,
    count(*) as campaign_responses_recent,
    max(case when responses.response_type in ('clicked', 'converted') then 1 else 0 end) = 1 as clicked_recently,
    max(case when responses.response_type = 'converted' then 1 else 0 end) = 1 as converted_recently,
    max(case when responses.response_type = 'unsubscribed' then 1 else 0 end) = 1 as unsubscribed_recently,
    max(responses.responded_at) as last_campaign_response_at
from {{ ref('fct_campaign_responses') }} as responses
cross join {{ ref('as_of') }} as as_of
where responses.person_id is not null
  and responses.responded_at >= {{ dbt.dateadd('day', -recent_days, 'as_of.as_of_at') }}
group by responses.person_id
