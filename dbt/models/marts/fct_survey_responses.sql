{# NPS / survey answers with their person, NPS category and the sentiment of
   the free-text comment (VADER, scored by the Python asset
   signals/survey_sentiment: compound score from -1 to 1). #}
with responses as (
    {{ cdp_kind_rows('survey', ['response_id', 'score', 'comment', 'answered_at']) }}
)

select
    {{ dbt.concat(['responses.source', "':'", 'responses.response_id']) }} as response_key,
    responses.person_id,
    responses.source,
    responses.response_id,
    responses.answered_at,
    responses.score,
    case
        when responses.score >= 9 then 'promoter'
        when responses.score >= 7 then 'passive'
        else 'detractor'
    end as nps_category,
    responses.comment,
    sentiment.sentiment_score,
    sentiment.sentiment_label
from responses
left join {{ source('signals', 'survey_sentiment') }} as sentiment
    on sentiment.source = responses.source
    and sentiment.response_id = responses.response_id
