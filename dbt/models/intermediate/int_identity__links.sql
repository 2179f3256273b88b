{# Deterministic identity links, as a star per shared value rather than every
   pair: each record sharing a normalised identifier links to the group's
   first record, so a value shared by n records costs n-1 links, not n^2.
   Login links tie a device to the one account it logged into; a device
   that logged into several accounts (a shared family tablet) is left out. #}
with records as (

    select * from {{ ref('int_identity__records') }}

),

{% for key in var('cdp_deterministic_keys') %}
{{ key }}_links as (

    select
        record_key,
        min(record_key) over (partition by {{ key }}) as linked_record_key,
        '{{ key }}' as rule
    from records
    where {{ key }} is not null

),

{% endfor %}

{%- set link_sources = [] -%}
{%- for name, src in var('cdp_sources').items() if src['links_to'] -%}
    {%- do link_sources.append(src) -%}
{%- endfor %}
login_links as (
    {%- for src in link_sources %}

    select
        {{ dbt.concat(['source', "':'", 'source_record_id']) }} as record_key,
        {{ dbt.concat(["'" ~ src['links_to'] ~ ":'", 'max(account_ref)']) }} as linked_record_key,
        'login' as rule
    from {{ ref(src['model']) }}
    where account_ref is not null and source_record_id is not null
    group by source, source_record_id
    having count(distinct account_ref) = 1
    union all
    {%- endfor %}

    select
        cast(null as {{ dbt.type_string() }}) as record_key,
        cast(null as {{ dbt.type_string() }}) as linked_record_key,
        cast(null as {{ dbt.type_string() }}) as rule
    where 1 = 0

),

all_links as (
    {%- for key in var('cdp_deterministic_keys') %}
    select * from {{ key }}_links union all
    {%- endfor %}
    select * from login_links
)

select distinct
    record_key,
    linked_record_key,
    rule
from all_links
where record_key <> linked_record_key
  and linked_record_key in (select record_key from records)
