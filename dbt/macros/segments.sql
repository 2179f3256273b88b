{# The body of every segment model (generated per segment of segments.yml):
   the people of customer_traits matching the segment's condition, minus
   those matching a suppression that applies to it (global suppressions for
   marketing segments unless opted out, plus the segment's own). A segment
   declaring `enrichment: true` may also use the third-party columns of
   customer_enrichment (only rows that are not stale; the person has
   enrichment consent, else they are null). #}
{% macro cdp_segment(segment_name) %}
{%- set segment = var('cdp_segments')[segment_name] -%}
{%- set suppressions = var('cdp_suppressions') %}
select
    person_id,
    '{{ segment_name }}' as segment
from {{ ref('customer_traits') }}
{%- if segment['enrichment'] %}
left join (
    select person_id, household_size, income_band, property_type, life_stage
    from {{ ref('customer_enrichment') }}
    where not is_stale
) as enrichment using (person_id)
{%- endif %}
where coalesce(({{ segment['where'] }}), false)
{%- for name in segment['suppressions'] %}
  and not coalesce(({{ suppressions[name] }}), false)  {#- suppression {{ name }} #}
{%- endfor %}
{% endmacro %}
