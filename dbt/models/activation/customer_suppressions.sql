{# Who is suppressed, and why: one row per person and named suppression of
   segments.yml whose condition holds. Marketing segments leave these people
   out, and the export gate checks no suppressed person is exported. #}
{%- set suppressions = var('cdp_suppressions') %}

{%- for name, condition in suppressions.items() %}
select person_id, '{{ name }}' as suppression
from {{ ref('customer_traits') }}
where coalesce(({{ condition }}), false)
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not suppressions %}
select cast(null as {{ dbt.type_string() }}) as person_id, cast(null as {{ dbt.type_string() }}) as suppression
where 1 = 0
{%- endif %}
