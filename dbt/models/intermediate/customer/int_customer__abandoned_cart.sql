{# Each profiled person's latest abandoned cart: a product added to the cart
   between traits.abandoned_cart_lookback_days and
   traits.abandoned_cart_after_days (cdp.yml) before as_of, with no order of
   theirs since. People left out of customer_activity_snapshots (profiling
   withdrawn) get none. #}
{%- set cart_after = var('cdp_traits').get('abandoned_cart_after_days', 1) -%}
{%- set cart_lookback = var('cdp_traits').get('abandoned_cart_lookback_days', 14) %}

with cart_adds as (

    select carts.person_id, carts.event_key, carts.event_at, carts.product_id
    from {{ ref('fct_events') }} as carts
    cross join {{ ref('as_of') }} as as_of
    where carts.event_type = 'cart_add'
      and carts.person_id in (select person_id from {{ ref('customer_activity_snapshots') }} where days_before_as_of = 0)
      and carts.event_at >= {{ dbt.dateadd('day', -cart_lookback, 'as_of.as_of_at') }}
      and carts.event_at <= {{ dbt.dateadd('day', -cart_after, 'as_of.as_of_at') }}
      and not exists (
          select 1 from {{ ref('fct_orders') }} as orders
          where orders.person_id = carts.person_id
            and orders.ordered_at >= carts.event_at
      )

),

latest_cart_add as (

    {{ cdp_latest_row(
        'cart_adds',
        ['person_id', 'event_at', 'product_id'],
        partition_by='person_id',
        order_by='event_at desc, event_key') }}

)

select person_id, event_at as abandoned_cart_at, product_id as abandoned_cart_product_id
from latest_cart_add
