{# Second-party attributes a partner holds on our persons (partner tier,
   spend band), only for persons whose partner_sharing consent is granted:
   one row per person and partner source. The partner's keys stay in
   staging; nothing here can be matched back to the partner's records. #}
{%- set partner_models = [] -%}
{%- for name, src in var('cdp_sources').items() if src['kind'] == 'partner' -%}
    {%- do partner_models.append(src['model']) -%}
{%- endfor %}

with partner_rows as (
    {%- for model in partner_models %}
    select source, source_record_id, partner_tier, partner_spend_band from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- if not partner_models %}
    {{ cdp_empty_relation({'source': 'varchar', 'source_record_id': 'varchar', 'partner_tier': 'varchar',
                           'partner_spend_band': 'varchar'}) }}
    {%- endif %}
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
