{# Customer-service tickets with their person. A ticket is resolved at its
   close time once its status is closed (at its opening if the close time is
   missing, so it never counts as open); an open or pending ticket is
   unresolved even if it carries the close time of an earlier closing
   (reopened). int_customer__tickets counts open tickets from resolved_at. #}
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
    case when status = 'closed' then coalesce(closed_at, opened_at) end as resolved_at,
    status <> 'closed' as is_unresolved,
    subject
from tickets
