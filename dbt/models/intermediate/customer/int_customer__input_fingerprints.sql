{# Each person's inputs fingerprints (macros/incremental.sql), computed once a run for the
   person-level marts that are incremental by person: records_fingerprint for dim_customer and
   customer_identifiers, with_consent_fingerprint (the consent events too) for customer_consent. #}
with records as (

    {{ cdp_person_inputs_fingerprints() }}

),

with_consent as (

    {{ cdp_person_inputs_fingerprints(cdp_consent_models()) }}

)

select
    records.person_id,
    records._inputs_fingerprint as records_fingerprint,
    with_consent._inputs_fingerprint as with_consent_fingerprint
from records
inner join with_consent on with_consent.person_id = records.person_id
