{# Next best action per person: the first rule of next_best_action in
   cdp.yml whose condition (SQL over customer_traits) holds; nobody matched
   gets 'nurture'. A person waiting on customer service gets no promotion
   whatever their action (promotions_allowed). #}
{%- set rules = var('cdp_next_best_action') %}
{%- set default_action = 'nurture' %}
{%- set default_reason = 'No rule matched: keep in the regular programme.' %}

select
    traits.person_id,
    {%- if rules %}
    case
        {%- for rule in rules %}
        when coalesce(({{ rule['when'] }}), false) then '{{ rule['action'] }}'
        {%- endfor %}
        else '{{ default_action }}'
    end as next_best_action,
    case
        {%- for rule in rules %}
        when coalesce(({{ rule['when'] }}), false) then {{ loop.index }}
        {%- endfor %}
    end as action_rule_number,
    case
        {%- for rule in rules %}
        when coalesce(({{ rule['when'] }}), false) then '{{ rule['description'] | replace("'", "''") }}'
        {%- endfor %}
        else '{{ default_reason }}'
    end as action_reason,
    {%- else %}
    {#- no next_best_action rules in cdp.yml: everyone is nurtured #}
    '{{ default_action }}' as next_best_action,
    cast(null as {{ dbt.type_int() }}) as action_rule_number,
    '{{ default_reason }}' as action_reason,
    {%- endif %}
    traits.recommended_product_id,
    traits.abandoned_cart_product_id,
    not traits.has_unresolved_ticket as promotions_allowed
from {{ ref('customer_traits') }} as traits
