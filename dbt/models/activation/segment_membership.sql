{# Segment membership with history: when each person entered and exited each
   segment (exited_at null while still a member), across runs. #}
select
    person_id,
    segment,
    dbt_valid_from as entered_at,
    dbt_valid_to as exited_at,
    dbt_valid_to is null as is_current
from {{ ref('segment_membership_history') }}
