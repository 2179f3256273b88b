{# Audience: people reachable by email whose email_marketing consent is
   granted. Exported to email destinations after its quality gate passes. #}
select
    customers.person_id,
    customers.email,
    customers.first_name,
    customers.last_name,
    consent.status as consent_email_marketing,
    consent.status_at as consented_at
from {{ ref('dim_customer') }} as customers
inner join {{ ref('customer_consent') }} as consent
    on consent.person_id = customers.person_id
    and consent.purpose = 'email_marketing'
where customers.email is not null
  and consent.status = 'granted'
