{# Audience: people reachable by email whose email_marketing consent is
   granted. Family members who share one inbox are different people, but the
   inbox is mailed once: the person who granted consent most recently keeps
   it. Exported to email destinations after its quality gate passes. #}
with reachable as (

    select
        customers.person_id,
        customers.email,
        customers.first_name,
        customers.last_name,
        consent.status as consent_email_marketing,
        consent.status_at as consented_at,
        row_number() over (
            partition by customers.email
            order by consent.status_at desc nulls last, customers.person_id
        ) as inbox_rank
    from {{ ref('dim_customer') }} as customers
    inner join {{ ref('customer_consent') }} as consent
        on consent.person_id = customers.person_id
        and consent.purpose = 'email_marketing'
    where customers.email is not null
      and consent.status = 'granted'

)

select
    person_id,
    email,
    first_name,
    last_name,
    consent_email_marketing,
    consented_at
from reachable
where inbox_rank = 1
