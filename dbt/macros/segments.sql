{# The body of every segment model (generated per segment of segments.yml):
   the people of customer_traits matching the segment's condition, minus
   those matching a suppression that applies to it (global suppressions for
   marketing segments unless opted out, plus the segment's own). #}
{% macro cdp_segment(segment_name) %}
{%- set segment = var('cdp_segments')[segment_name] -%}
{%- set suppressions = var('cdp_suppressions') %}
select
    person_id,
    '{{ segment_name }}' as segment
from {{ ref('customer_traits') }}
where coalesce(({{ segment['where'] }}), false)
{%- for name in segment['suppressions'] %}
  and not coalesce(({{ suppressions[name] }}), false)  {#- suppression {{ name }} #}
{%- endfor %}
{% endmacro %}
