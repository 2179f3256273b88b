{# Each person's inputs fingerprints (macros/incremental.sql), computed once a run for the
   person-level marts that are incremental by person: records_fingerprint for dim_customer and
   customer_identifiers, with_consent_fingerprint (the consent events too) for customer_consent. #}
with record_hashes as (

    {{ cdp_person_input_hashes() }}

),

consent_hashes as (

    {{ cdp_person_input_hashes(cdp_consent_models()) }}

),

records as (

    select person_id, bit_xor(input_hash) as fingerprint from record_hashes group by person_id

),

consents as (

    select person_id, bit_xor(input_hash) as fingerprint from consent_hashes group by person_id

)

select
    records.person_id,
    records.fingerprint as records_fingerprint,
    {{ cdp_row_hash(['records.fingerprint', 'consents.fingerprint']) }} as with_consent_fingerprint
from records
left join consents on consents.person_id = records.person_id
