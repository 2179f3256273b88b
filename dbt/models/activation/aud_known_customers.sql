{# Audience: every person with an email or a phone, the base of "customer
   match" lists. Consent and reach per destination are enforced at export. #}
select
    person_id,
    email is not null as has_email,
    phone is not null as has_phone
from {{ ref('dim_customer') }}
where email is not null or phone is not null
