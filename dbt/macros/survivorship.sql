{# Survivorship: the order in which a person's records compete for an
   attribute (rules and source trust come from cdp.yml golden_record). #}

{# Rank of a source in golden_record.source_trust (1 = most trusted); sources
   not listed rank after those listed. Without source_trust every source
   ranks the same. #}
{% macro cdp_trust_rank(source_column) -%}
    {%- set trust = var('cdp_survivorship')['trust'] -%}
    {%- if trust -%}
    case {{ source_column }}
    {%- for source, rank in trust.items() %}
        when '{{ source }}' then {{ rank }}
    {%- endfor %}
        else {{ trust | length + 1 }}
    end
    {%- else -%}
    1
    {%- endif -%}
{%- endmacro %}

{# How many of `fields` a record fills. #}
{% macro cdp_filled_count(fields) -%}
    ({%- for field in fields %}case when {{ field }} is not null then 1 else 0 end{{ ' + ' if not loop.last }}{%- endfor %})
{%- endmacro %}

{# ORDER BY of the competing records for one attribute rule; record_key last
   so that re-runs pick the same record. #}
{% macro cdp_survivor_order(rule, fields) -%}
    {%- if rule == 'trust' -%}
        trust_rank, updated_at desc, record_key
    {%- elif rule == 'completeness' -%}
        {{ cdp_filled_count(fields) }} desc, record_completeness desc, trust_rank, updated_at desc, record_key
    {%- else -%}
        updated_at desc, trust_rank, record_key
    {%- endif -%}
{%- endmacro %}
