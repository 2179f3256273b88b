{# Each profiled person's three most viewed product categories in the
   traits.recent_days (cdp.yml) before as_of, most viewed first. #}
{%- set recent_days = var('cdp_traits').get('recent_days', 30) %}

with category_views as (

    select events.person_id, events.category, count(*) as views
    from {{ ref('fct_events') }} as events
    cross join {{ ref('as_of') }} as as_of
    where events.category is not null
      and events.person_id in (select person_id from {{ ref('customer_activity_snapshots') }} where days_before_as_of = 0)
      and events.event_at >= {{ dbt.dateadd('day', -recent_days, 'as_of.as_of_at') }}
    group by events.person_id, events.category

),

ranked as (

    select
        person_id,
        category,
        views,
        row_number() over (partition by person_id order by views desc, category) as category_rank
    from category_views

)

select
    person_id,
    {{ cdp_listagg_sorted('category', 'category_rank', "', '") }} as recent_browsing_categories
from ranked
where category_rank <= 3
group by person_id
