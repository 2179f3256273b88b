{# Each person's input fingerprints (macros/incremental.sql), computed once per run for the
   person-level marts, each of which reads them in its pre-hook and again in its model: an
   order-free hash (bit_xor) of the versions of their records, and of their records and
   consent events. #}

select
    person_id,
    bit_xor(case when input_kind = 'record' then input_hash end) as records_fingerprint,
    bit_xor(input_hash) as records_and_consent_fingerprint
from (
    {{ cdp_person_input_hashes() }}
    union all
    {{ cdp_person_input_hashes(cdp_consent_models()) }}
) as person_inputs
group by person_id
