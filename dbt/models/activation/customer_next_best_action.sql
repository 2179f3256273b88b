{# Next best action per person: the first rule of next_best_action in
   cdp.yml whose condition (SQL over customer_traits) holds; nobody matched
   gets 'nurture'. A person waiting on customer service gets no promotion
   whatever their action (promotions_allowed). #}
{%- set rules = var('cdp_next_best_action') %}

select
    traits.person_id,
    {%- if rules %}
    case
        {%- for rule in rules %}
        when coalesce(({{ rule['when'] }}), false) then '{{ rule['action'] }}'
        {%- endfor %}
        else 'nurture'
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
        else 'No rule matched: keep in the regular programme.'
    end as action_reason,
    {%- else %}
    {#- no next_best_action rules in cdp.yml: everyone is nurtured #}
    'nurture' as next_best_action,
    cast(null as {{ dbt.type_int() }}) as action_rule_number,
    'No rule matched: keep in the regular programme.' as action_reason,
    {%- endif %}
    traits.recommended_product_id,
    traits.abandoned_cart_product_id,
    not traits.has_unresolved_ticket as promotions_allowed
from {{ ref('customer_traits') }} as traits
