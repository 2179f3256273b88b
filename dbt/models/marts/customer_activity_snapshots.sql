{# Behaviour of every person as it was at several cut-off moments: as_of
   itself and the days before it that the predictive models need
   (models.* in cdp.yml). The row at days_before_as_of = 0 feeds
   customer_traits and scoring; earlier rows, with what happened in the
   horizon after them (labels), train and evaluate the churn and propensity
   models on a time-based split. People who withdrew `profiling` consent are
   left out: their behaviour feeds no trait, score or segment. #}
{%- set churn_days = var('cdp_models').get('churn_horizon_days', 180) -%}
{%- set propensity_days = var('cdp_models').get('propensity_horizon_days', 90) -%}
{%- set recent_days = var('cdp_traits').get('recent_days', 30) %}

with cutoffs as (

    select * from {{ ref('int_customer__cutoffs') }}

),

profiling_withdrawn as (

    select person_id
    from {{ ref('customer_consent') }}
    where purpose = 'profiling' and status = 'withdrawn'

),

orders as (

    select person_id, order_key, ordered_at, channel, category, amount_reporting
    from {{ ref('fct_orders') }}
    where person_id is not null and not is_refund
      and person_id not in (select person_id from profiling_withdrawn)

),

refund_features as (

    {#- Refunds (negative lines) are counted apart, never as negative revenue. #}
    select
        refunds.person_id,
        cutoffs.days_before_as_of,
        count(*) as refund_count,
        -sum(refunds.amount_reporting) as refund_amount
    from {{ ref('fct_orders') }} as refunds
    inner join cutoffs on refunds.ordered_at < cutoffs.cutoff_at
    where refunds.person_id is not null and refunds.is_refund
      and refunds.person_id not in (select person_id from profiling_withdrawn)
    group by refunds.person_id, cutoffs.days_before_as_of

),

events as (

    select person_id, event_type, event_at, session_id
    from {{ ref('fct_events') }}
    where person_id is not null
      and person_id not in (select person_id from profiling_withdrawn)

),

{#- One row per order and cut-off first, then per person: counting orders with distinct over
    the order lines cost most of this model. An order counts where any of its lines meets the
    condition, as a distinct count of order keys over the lines would. Nearly every order's lines
    carry one time: such an order is one row (its lines' amounts summed, a store line flagged)
    whose conditions are read at each cut-off as they are; the lines of an order with several
    times are grouped per order at each cut-off (max of 1 or null, then count). #}
{%- set before = 'orders.ordered_at < cutoffs.cutoff_at' -%}
{%- set order_conditions = [
    ('is_before', 'max', before, '1'),
    ('revenue', 'sum', before, 'orders.amount_reporting'),
    ('first_order_at', 'min', before, 'orders.ordered_at'),
    ('last_order_at', 'max', before, 'orders.ordered_at'),
    ('is_in_90d', 'max', before ~ ' and orders.ordered_at >= ' ~ dbt.dateadd('day', -90, 'cutoffs.cutoff_at'), '1'),
    ('is_in_365d', 'max', before ~ ' and orders.ordered_at >= ' ~ dbt.dateadd('day', -365, 'cutoffs.cutoff_at'), '1'),
    ('revenue_365d', 'sum', before ~ ' and orders.ordered_at >= ' ~ dbt.dateadd('day', -365, 'cutoffs.cutoff_at'),
     'orders.amount_reporting'),
    ('is_store', 'max', before ~ ' and orders.is_store_line = 1', '1'),
    ('is_in_churn_horizon', 'max', 'orders.ordered_at >= cutoffs.cutoff_at and orders.ordered_at < '
     ~ dbt.dateadd('day', churn_days, 'cutoffs.cutoff_at'), '1'),
    ('is_in_propensity_horizon', 'max', 'orders.ordered_at >= cutoffs.cutoff_at and orders.ordered_at < '
     ~ dbt.dateadd('day', propensity_days, 'cutoffs.cutoff_at'), '1'),
] %}
order_lines as (

    select person_id, order_key, ordered_at, amount_reporting,
           case when channel = 'store' then 1 else 0 end as is_store_line
    from orders

),

order_rows as (

    select
        person_id,
        order_key,
        min(ordered_at) as ordered_at,
        max(ordered_at) as last_line_at,
        sum(amount_reporting) as amount_reporting,
        max(is_store_line) as is_store_line
    from order_lines
    group by person_id, order_key

),

orders_at_cutoffs as (

    select
        orders.person_id,
        cutoffs.days_before_as_of
        {%- for name, aggregate, condition, value in order_conditions %},
        case when {{ condition }} then {{ value }}{{ ' else 0' if aggregate == 'sum' }} end as {{ name }}
        {%- endfor %}
    from order_rows as orders
    cross join cutoffs
    where coalesce(orders.ordered_at = orders.last_line_at, true)

    union all

    select
        orders.person_id,
        cutoffs.days_before_as_of
        {%- for name, aggregate, condition, value in order_conditions %},
        {{ aggregate }}(case when {{ condition }} then {{ value }}{{ ' else 0' if aggregate == 'sum' }} end) as {{ name }}
        {%- endfor %}
    from order_lines as orders
    inner join order_rows as several_times
        on several_times.person_id = orders.person_id
        and several_times.order_key = orders.order_key
        and several_times.ordered_at < several_times.last_line_at
    cross join cutoffs
    group by orders.person_id, cutoffs.days_before_as_of, orders.order_key

),

category_counts as (

    select person_id, days_before_as_of, count(*) as distinct_categories
    from (
        select distinct orders.person_id, cutoffs.days_before_as_of, orders.category
        from orders
        inner join cutoffs on orders.ordered_at < cutoffs.cutoff_at
        where orders.category is not null
    ) as categories
    group by person_id, days_before_as_of

),

order_totals as (

    select
        person_id,
        days_before_as_of,
        count(is_before) as order_count,
        sum(revenue) as revenue,
        min(first_order_at) as first_order_at,
        max(last_order_at) as last_order_at,
        count(is_in_90d) as orders_90d,
        count(is_in_365d) as orders_365d,
        sum(revenue_365d) as revenue_365d,
        count(is_store) as store_order_count,
        count(is_in_churn_horizon) as orders_in_churn_horizon,
        count(is_in_propensity_horizon) as orders_in_propensity_horizon
    from orders_at_cutoffs
    group by person_id, days_before_as_of

),

order_features as (

    select order_totals.*, coalesce(category_counts.distinct_categories, 0) as distinct_categories
    from order_totals
    left join category_counts
        on category_counts.person_id = order_totals.person_id
        and category_counts.days_before_as_of = order_totals.days_before_as_of

),

event_features as (

    select
        events.person_id,
        cutoffs.days_before_as_of,
        max(events.event_at) as last_event_at,
        count(*) as events_{{ recent_days }}d,
        sum(case when events.event_type = 'page_view' then 1 else 0 end) as page_views_{{ recent_days }}d,
        sum(case when events.event_type = 'cart_add' then 1 else 0 end) as cart_adds_{{ recent_days }}d,
        count(distinct events.session_id) as sessions_{{ recent_days }}d
    from events
    inner join cutoffs
        on events.event_at < cutoffs.cutoff_at
        and events.event_at >= {{ dbt.dateadd('day', -recent_days, 'cutoffs.cutoff_at') }}
    group by events.person_id, cutoffs.days_before_as_of

),

last_event as (

    select
        events.person_id,
        cutoffs.days_before_as_of,
        min(events.event_at) as first_event_at,
        max(events.event_at) as last_event_at
    from events
    inner join cutoffs on events.event_at < cutoffs.cutoff_at
    group by events.person_id, cutoffs.days_before_as_of

),

campaign_features as (

    select
        responses.person_id,
        cutoffs.days_before_as_of,
        sum(case when responses.response_type = 'opened' then 1 else 0 end) as campaign_opens_90d,
        sum(case when responses.response_type in ('clicked', 'converted') then 1 else 0 end) as campaign_clicks_90d
    from {{ ref('fct_campaign_responses') }} as responses
    inner join cutoffs
        on responses.responded_at < cutoffs.cutoff_at
        and responses.responded_at >= {{ dbt.dateadd('day', -90, 'cutoffs.cutoff_at') }}
    where responses.person_id is not null
    group by responses.person_id, cutoffs.days_before_as_of

),

people_at_cutoff as (

    select person_id, days_before_as_of from order_features where order_count > 0
    union
    select person_id, days_before_as_of from last_event

)

select
    people.person_id,
    people.days_before_as_of,
    cutoffs.cutoff_at,
    coalesce(order_features.order_count, 0) as order_count,
    {{ cdp_money('coalesce(order_features.revenue, 0)') }} as revenue,
    order_features.first_order_at,
    order_features.last_order_at,
    {{ dbt.datediff('order_features.last_order_at', 'cutoffs.cutoff_at', 'day') }} as days_since_last_order,
    {{ dbt.datediff('order_features.first_order_at', 'cutoffs.cutoff_at', 'day') }} as days_since_first_order,
    coalesce(order_features.orders_90d, 0) as orders_90d,
    coalesce(order_features.orders_365d, 0) as orders_365d,
    {{ cdp_money('coalesce(order_features.revenue_365d, 0)') }} as revenue_365d,
    case when order_features.order_count > 0
         then {{ cdp_money('order_features.revenue / order_features.order_count') }} end as average_order_value,
    coalesce(refund_features.refund_count, 0) as refund_count,
    {{ cdp_money('coalesce(refund_features.refund_amount, 0)') }} as refund_amount,
    case when order_features.order_count > 0
         then cast(order_features.store_order_count as {{ dbt.type_float() }}) / order_features.order_count end as store_order_share,
    coalesce(order_features.distinct_categories, 0) as distinct_categories,
    last_event.first_event_at,
    last_event.last_event_at,
    {{ dbt.datediff('last_event.last_event_at', 'cutoffs.cutoff_at', 'day') }} as days_since_last_event,
    coalesce(event_features.events_{{ recent_days }}d, 0) as events_recent,
    coalesce(event_features.page_views_{{ recent_days }}d, 0) as page_views_recent,
    coalesce(event_features.cart_adds_{{ recent_days }}d, 0) as cart_adds_recent,
    coalesce(event_features.sessions_{{ recent_days }}d, 0) as sessions_recent,
    coalesce(tickets.tickets_180d, 0) as tickets_180d,
    coalesce(tickets.open_ticket_count, 0) as open_tickets,
    last_nps.score as last_nps_score,
    coalesce(campaign_features.campaign_opens_90d, 0) as campaign_opens_90d,
    coalesce(campaign_features.campaign_clicks_90d, 0) as campaign_clicks_90d,
    case when loyalty.first_joined_at < cast(cutoffs.cutoff_at as date) then 1 else 0 end as is_loyalty_member,
    {#- Labels: only where the horizon after the cut-off lies inside the data. #}
    case
        when people.days_before_as_of >= {{ churn_days }} and coalesce(order_features.order_count, 0) > 0
        then case when order_features.orders_in_churn_horizon = 0 then 1 else 0 end
    end as churned_in_horizon,
    case
        when people.days_before_as_of >= {{ propensity_days }}
        then case when coalesce(order_features.orders_in_propensity_horizon, 0) > 0 then 1 else 0 end
    end as purchased_in_horizon
from people_at_cutoff as people
inner join cutoffs on cutoffs.days_before_as_of = people.days_before_as_of
left join order_features
    on order_features.person_id = people.person_id and order_features.days_before_as_of = people.days_before_as_of
left join refund_features
    on refund_features.person_id = people.person_id and refund_features.days_before_as_of = people.days_before_as_of
left join event_features
    on event_features.person_id = people.person_id and event_features.days_before_as_of = people.days_before_as_of
left join last_event
    on last_event.person_id = people.person_id and last_event.days_before_as_of = people.days_before_as_of
left join {{ ref('int_customer__tickets') }} as tickets
    on tickets.person_id = people.person_id and tickets.days_before_as_of = people.days_before_as_of
left join {{ ref('int_customer__last_survey_answer') }} as last_nps
    on last_nps.person_id = people.person_id and last_nps.days_before_as_of = people.days_before_as_of
left join campaign_features
    on campaign_features.person_id = people.person_id and campaign_features.days_before_as_of = people.days_before_as_of
left join {{ ref('int_customer__loyalty') }} as loyalty on loyalty.person_id = people.person_id
