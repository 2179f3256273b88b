{# Each person's loyalty status: tier and points from their most recently
   updated membership (today's state; the source keeps no history) and when
   they first joined, which tells membership at any cut-off. #}

with memberships as (

    select
        person_id,
        membership_key,
        tier,
        points,
        updated_at,
        min(joined_at) over (partition by person_id) as first_joined_at
    from {{ ref('fct_loyalty_memberships') }}
    where person_id is not null

)

{{ cdp_latest_row(
    'memberships',
    ['person_id', 'tier', 'points', 'first_joined_at'],
    partition_by='person_id',
    order_by='updated_at desc, membership_key') }}
