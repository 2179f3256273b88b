{# Loyalty programme memberships with their person: the latest tier and
   points of each member record. #}
with members as (
    {{ cdp_kind_rows('loyalty', ['tier', 'points', 'joined_at', 'updated_at']) }}
)

select
    {{ dbt.concat(['source', "':'", 'source_record_id']) }} as membership_key,
    person_id,
    source,
    source_record_id as member_id,
    tier,
    points,
    joined_at,
    updated_at
from members
