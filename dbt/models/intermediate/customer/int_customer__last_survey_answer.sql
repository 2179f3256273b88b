{# Each person's latest NPS answer before each cut-off, kept for everyone
   whatever their consent (it protects the customer rather than profiles
   them). #}

with answers as (

    select
        survey.person_id,
        cutoffs.days_before_as_of,
        survey.response_key,
        survey.score,
        survey.answered_at,
        survey.nps_category,
        survey.sentiment_score,
        survey.sentiment_label
    from {{ ref('fct_survey_responses') }} as survey
    inner join {{ ref('int_customer__cutoffs') }} as cutoffs on survey.answered_at < cutoffs.cutoff_at
    where survey.person_id is not null

)

{{ cdp_latest_row(
    'answers',
    ['person_id', 'days_before_as_of', 'score', 'answered_at', 'nps_category', 'sentiment_score', 'sentiment_label'],
    partition_by='person_id, days_before_as_of',
    order_by='answered_at desc, response_key') }}
