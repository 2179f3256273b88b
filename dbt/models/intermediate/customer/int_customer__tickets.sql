{# Service tickets per person at each cut-off: the one definition of an open
   ticket. A ticket is open at a moment from its opening until it is resolved
   (fct_service_tickets.resolved_at), so at a cut-off when opened at or before
   it and not resolved by then. Judged by resolution time, not today's status,
   so the answer is the same at past cut-offs (model training) and at as_of
   (traits, next best action, suppressions); a ticket opened at the as_of
   moment itself counts. Everyone's tickets count, whatever their consent: an
   open ticket protects the customer. #}
{%- set open_at_cutoff = '(tickets.resolved_at is null or tickets.resolved_at > cutoffs.cutoff_at)' %}

select
    tickets.person_id,
    cutoffs.days_before_as_of,
    sum(case when tickets.opened_at >= {{ dbt.dateadd('day', -180, 'cutoffs.cutoff_at') }} then 1 else 0 end) as tickets_180d,
    sum(case when {{ open_at_cutoff }} then 1 else 0 end) as open_ticket_count,
    max(case when {{ open_at_cutoff }}
             then {{ dbt.datediff('tickets.opened_at', 'cutoffs.cutoff_at', 'day') }} end) as oldest_open_ticket_days,
    max(tickets.opened_at) as last_ticket_at
from {{ ref('fct_service_tickets') }} as tickets
inner join {{ ref('int_customer__cutoffs') }} as cutoffs on tickets.opened_at <= cutoffs.cutoff_at
where tickets.person_id is not null
group by tickets.person_id, cutoffs.days_before_as_of
