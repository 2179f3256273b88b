{# Demand by product x region x week for ERP and supply chain: units and
   revenue ordered (every channel, anonymous receipts included) beside cart
   adds (intent that did not always convert). An order's region is its
   sales region (ship-to or store); a cart add's region is the home region
   of its person (the region of most of their orders), else 'unknown'. #}
with orders as (

    select
        {{ dbt.date_trunc('week', 'ordered_at') }} as week_start,
        product_id,
        coalesce(sales_region, 'unknown') as region,
        order_key,
        quantity,
        amount_reporting
    from {{ ref('fct_orders') }}
    where product_id is not null and not is_refund

),

home_region as (

    select person_id, sales_region as region
    from (
        select
            person_id,
            sales_region,
            row_number() over (partition by person_id order by count(*) desc, sales_region) as region_rank
        from {{ ref('fct_orders') }}
        where person_id is not null and sales_region is not null
        group by person_id, sales_region
    ) as ranked
    where region_rank = 1

),

cart_adds as (

    select
        {{ dbt.date_trunc('week', 'events.event_at') }} as week_start,
        events.product_id,
        coalesce(home_region.region, 'unknown') as region,
        events.person_id
    from {{ ref('fct_events') }} as events
    left join home_region on home_region.person_id = events.person_id
    where events.event_type = 'cart_add' and events.product_id is not null

),

ordered as (

    select
        week_start, product_id, region,
        count(distinct order_key) as orders,
        sum(quantity) as units_ordered,
        {{ cdp_money('sum(amount_reporting)') }} as revenue
    from orders
    group by week_start, product_id, region

),

carted as (

    select week_start, product_id, region, count(*) as cart_adds, count(distinct person_id) as cart_add_people
    from cart_adds
    group by week_start, product_id, region

)

select
    cast(coalesce(ordered.week_start, carted.week_start) as date) as week_start,
    coalesce(ordered.product_id, carted.product_id) as product_id,
    coalesce(ordered.region, carted.region) as region,
    coalesce(ordered.orders, 0) as orders,
    coalesce(ordered.units_ordered, 0) as units_ordered,
    coalesce(ordered.revenue, 0) as revenue,
    coalesce(carted.cart_adds, 0) as cart_adds,
    coalesce(carted.cart_add_people, 0) as cart_add_people
from ordered
full outer join carted
    on carted.week_start = ordered.week_start
    and carted.product_id = ordered.product_id
    and carted.region = ordered.region
