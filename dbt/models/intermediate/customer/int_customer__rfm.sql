{# Recency, frequency and monetary quintiles (1-5) of every customer with an
   order, as of as_of. Quintiles by cumulative distribution: customers with
   equal values get equal scores (ntile would split ties arbitrarily). #}

select
    person_id,
    cast(ceil(5 * cume_dist() over (order by days_since_last_order desc)) as {{ dbt.type_int() }}) as recency_score,
    cast(ceil(5 * cume_dist() over (order by order_count)) as {{ dbt.type_int() }}) as frequency_score,
    cast(ceil(5 * cume_dist() over (order by revenue)) as {{ dbt.type_int() }}) as monetary_score
from {{ ref('customer_activity_snapshots') }}
where days_before_as_of = 0 and order_count > 0
