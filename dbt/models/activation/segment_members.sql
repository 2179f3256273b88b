{# Current members of every segment (one row per person and segment); the
   snapshot segment_membership_history records entries and exits from it. #}
{%- set segments = var('cdp_segments') %}

{%- for name in segments %}
select
    {{ dbt.concat(['person_id', "':'", 'segment']) }} as membership_key,
    person_id,
    segment
from {{ ref('seg_' ~ name) }}
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not segments %}
select
    cast(null as {{ dbt.type_string() }}) as membership_key,
    cast(null as {{ dbt.type_string() }}) as person_id,
    cast(null as {{ dbt.type_string() }}) as segment
where 1 = 0
{%- endif %}
