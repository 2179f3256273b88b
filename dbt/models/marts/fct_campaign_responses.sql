{# Campaign responses (delivered, opened, clicked, converted, unsubscribed)
   with their person: the closed loop from activation back into traits. #}
with responses as (
    {{ cdp_kind_rows('responses', ['response_id', 'campaign_id', 'response_type', 'channel', 'responded_at']) }}
)

select
    {{ dbt.concat(['source', "':'", 'response_id']) }} as response_key,
    person_id,
    source,
    response_id,
    campaign_id,
    response_type,
    channel,
    responded_at
from responses
