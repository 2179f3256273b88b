{# Customer-service tickets with their person. A ticket is unresolved while
   its status is open or pending. #}
with tickets as (
    {{ cdp_kind_rows('tickets', ['ticket_id', 'opened_at', 'closed_at', 'status', 'subject']) }}
)

select
    {{ dbt.concat(['source', "':'", 'ticket_id']) }} as ticket_key,
    person_id,
    source,
    ticket_id,
    opened_at,
    closed_at,
    status,
    status in ('open', 'pending') as is_unresolved,
    subject
from tickets
