{# One row per person: static truth beside dynamic intent, computed as of
   the as_of moment. Behavioural traits (orders, browsing, cart, campaign
   engagement, scores, recommendations) come from customer_activity_snapshots,
   which leaves out people who withdrew `profiling` consent: for them those
   traits are null. Service tickets, NPS answers, loyalty status and
   unsubscribes are kept for everyone: they protect the customer
   (suppressions) rather than profile them. Each feature is computed in its
   own int_customer__* model; tickets and NPS answers are the as_of rows of
   the per-cut-off models that customer_activity_snapshots shares. #}
{%- set tiers = var('cdp_traits').get('loyalty_tiers', []) %}

with as_of as (

    select as_of_at from {{ ref('as_of') }}

),

profiling as (

    select person_id, status = 'granted' as profiling_allowed
    from {{ ref('customer_consent') }}
    where purpose = 'profiling'

),

activity as (

    select * from {{ ref('customer_activity_snapshots') }} where days_before_as_of = 0

),

tickets as (

    select * from {{ ref('int_customer__tickets') }} where days_before_as_of = 0

),

last_nps as (

    select * from {{ ref('int_customer__last_survey_answer') }} where days_before_as_of = 0

),

scores as (

    select person_id, churn_risk, purchase_propensity
    from {{ source('ml', 'customer_scores') }}

),

recommendation as (

    select person_id, product_id as recommended_product_id
    from {{ ref('customer_product_recommendations') }}
    where recommendation_rank = 1

)

select
    customers.person_id,
    as_of.as_of_at,
    customers.is_known,
    coalesce(profiling.profiling_allowed, false) as profiling_allowed,
    least(customers.first_seen_at, activity.first_order_at, activity.first_event_at) as first_seen_at,
    greatest(customers.last_updated_at, activity.last_order_at, activity.last_event_at) as last_seen_at,
    {{ dbt.datediff('least(customers.first_seen_at, activity.first_order_at, activity.first_event_at)', 'as_of.as_of_at', 'day') }} as tenure_days,
    {#- orders: recency, frequency, monetary #}
    activity.order_count,
    activity.first_order_at,
    activity.last_order_at,
    activity.days_since_first_order,
    activity.days_since_last_order,
    activity.orders_365d,
    activity.revenue as lifetime_value,
    activity.revenue_365d,
    activity.average_order_value,
    activity.refund_count,
    activity.refund_amount,
    rfm.recency_score,
    rfm.frequency_score,
    rfm.monetary_score,
    {{ dbt.concat([dbt.cast('rfm.recency_score', dbt.type_string()), dbt.cast('rfm.frequency_score', dbt.type_string()), dbt.cast('rfm.monetary_score', dbt.type_string())]) }} as rfm_score,
    case
        when rfm.person_id is null then null
        when rfm.recency_score >= 4 and rfm.frequency_score >= 4 and rfm.monetary_score >= 4 then 'champions'
        when rfm.recency_score >= 3 and rfm.frequency_score >= 3 then 'loyal'
        when rfm.recency_score >= 4 and rfm.frequency_score <= 2 then 'new_or_promising'
        when rfm.recency_score <= 2 and rfm.frequency_score >= 3 then 'at_risk'
        when rfm.recency_score <= 2 and rfm.frequency_score <= 2 then 'hibernating'
        else 'needs_attention'
    end as rfm_segment,
    {#- predicted 12-month value: last year's spend, kept with the probability of not churning #}
    case when activity.order_count > 0
         then {{ cdp_money('activity.revenue_365d * (1 - coalesce(scores.churn_risk, 0.5))') }} end as predicted_12m_value,
    {#- channels #}
    1 - activity.store_order_share as online_order_share,
    activity.store_order_share,
    case
        when activity.store_order_share > 0.5 then 'store'
        when activity.store_order_share < 0.5 then 'online'
        when activity.store_order_share = 0.5 then 'omnichannel'
        when activity.last_event_at is not null then 'online'
    end as preferred_channel,
    {#- loyalty #}
    loyalty.tier as loyalty_tier,
    loyalty.points as loyalty_points,
    case
        {%- for tier in tiers %}
        when loyalty.points < {{ tier['points'] }} then '{{ tier['tier'] }}'
        {%- endfor %}
    end as next_loyalty_tier,
    case
        {%- for tier in tiers %}
        when loyalty.points < {{ tier['points'] }} then {{ tier['points'] }} - loyalty.points
        {%- endfor %}
    end as points_to_next_tier,
    {#- service #}
    coalesce(tickets.open_ticket_count, 0) as open_ticket_count,
    coalesce(tickets.open_ticket_count, 0) > 0 as has_unresolved_ticket,
    tickets.oldest_open_ticket_days,
    tickets.last_ticket_at,
    {#- voice of the customer #}
    last_nps.score as last_nps_score,
    last_nps.answered_at as last_nps_at,
    last_nps.nps_category as last_nps_category,
    last_nps.sentiment_score as last_nps_sentiment_score,
    last_nps.sentiment_label as last_nps_sentiment,
    {#- intent #}
    activity.last_event_at,
    activity.days_since_last_event,
    activity.sessions_recent,
    activity.page_views_recent,
    browsing.recent_browsing_categories,
    cart.abandoned_cart_at is not null and activity.person_id is not null as has_abandoned_cart,
    cart.abandoned_cart_at,
    cart.abandoned_cart_product_id,
    {#- the closed loop: campaign responses #}
    case when activity.person_id is not null then coalesce(campaigns.campaign_responses_recent, 0) end as campaign_responses_recent,
    case when activity.person_id is not null then coalesce(campaigns.clicked_recently, false) end as clicked_recently,
    case when activity.person_id is not null then coalesce(campaigns.converted_recently, false) end as converted_recently,
    coalesce(campaigns.unsubscribed_recently, false) as unsubscribed_recently,
    case when activity.person_id is not null then campaigns.last_campaign_response_at end as last_campaign_response_at,
    {#- predictive scores and recommendation #}
    scores.churn_risk,
    scores.purchase_propensity,
    recommendation.recommended_product_id
from {{ ref('dim_customer') }} as customers
cross join as_of
left join profiling on profiling.person_id = customers.person_id
left join activity on activity.person_id = customers.person_id
left join {{ ref('int_customer__rfm') }} as rfm on rfm.person_id = customers.person_id
left join {{ ref('int_customer__loyalty') }} as loyalty on loyalty.person_id = customers.person_id
left join tickets on tickets.person_id = customers.person_id
left join last_nps on last_nps.person_id = customers.person_id
left join {{ ref('int_customer__campaign_engagement') }} as campaigns on campaigns.person_id = customers.person_id
left join {{ ref('int_customer__abandoned_cart') }} as cart on cart.person_id = customers.person_id
left join {{ ref('int_customer__browsing') }} as browsing on browsing.person_id = customers.person_id
left join scores on scores.person_id = customers.person_id
left join recommendation on recommendation.person_id = customers.person_id
