{# The cut-off moments behaviour is measured at: as_of itself
   (days_before_as_of = 0) and the days before it that the predictive models
   need (models.snapshot_offsets in cdp.yml). One row per cut-off. #}
{%- set offsets = var('cdp_models').get('snapshot_offsets', [0]) %}

{%- for offset in offsets %}
select
    {{ offset }} as days_before_as_of,
    {{ dbt.dateadd('day', -offset, 'as_of_at') }} as cutoff_at,
    as_of_at
from {{ ref('as_of') }}
{{ 'union all' if not loop.last }}
{%- endfor %}
