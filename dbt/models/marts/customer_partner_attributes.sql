{# Second-party attributes a partner holds on our persons (partner tier,
   spend band), only for persons whose partner_sharing consent is granted:
   one row per person and partner source. The partner's keys stay in
   staging; nothing here can be matched back to the partner's records. #}

with partner_rows as (
    {{ cdp_kind_columns('partner', ['source_record_id', 'partner_tier', 'partner_spend_band']) }}
)

select
    matches.person_id,
    matches.source as partner_source,
    partner_rows.partner_tier,
    partner_rows.partner_spend_band,
    matches.matched_by,
    matches.similarity
from {{ source('identity', 'partner_matches') }} as matches
inner join partner_rows
    on partner_rows.source = matches.source
    and partner_rows.source_record_id = matches.source_record_id
inner join {{ ref('customer_consent') }} as consent
    on consent.person_id = matches.person_id
    and consent.purpose = 'partner_sharing'
    and consent.status = 'granted'
