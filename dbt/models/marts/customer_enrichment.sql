{# Third-party enrichment (sources of kind enrichment: bought data by
   postcode) joined to each person's golden-record postcode, kept apart from
   first-party columns with its provider, as-of date and purpose tag, only for
   persons whose enrichment consent is granted. The newest row per postcode
   wins; a row older than enrichment.max_age_days (cdp.yml) at the traits'
   as-of date is kept but flagged is_stale. #}

with enrichment_rows as (
    {{ cdp_kind_columns('enrichment', ['postcode_norm', 'household_size', 'income_band', 'property_type',
                                       'life_stage', 'provider', 'as_of', 'purpose']) }}
),

ranked as (
    select *, row_number() over (partition by postcode_norm order by as_of desc, source) as recency_rank
    from enrichment_rows
    where postcode_norm is not null
),

newest_per_postcode as (
    select * from ranked where recency_rank = 1
)

select
    customers.person_id,
    enrichment.source as enrichment_source,
    enrichment.household_size,
    enrichment.income_band,
    enrichment.property_type,
    enrichment.life_stage,
    enrichment.provider,
    enrichment.as_of,
    enrichment.purpose,
    enrichment.as_of < {{ dbt.dateadd('day', -var('cdp_enrichment_max_age_days', 365), 'as_of.as_of_at') }} as is_stale
from {{ ref('dim_customer') }} as customers
inner join newest_per_postcode as enrichment
    on enrichment.postcode_norm = {{ cdp_normalise_postcode('customers.postcode') }}
inner join {{ ref('customer_consent') }} as consent
    on consent.person_id = customers.person_id
    and consent.purpose = 'enrichment'
    and consent.status = 'granted'
cross join {{ ref('as_of') }} as as_of
