{# Deterministic identity link candidates.

   Records sharing a normalised identifier (email, phone, loyalty id) are
   linked. Records that carry a first name or date of birth ("described"
   records) are linked pairwise, so identity resolution can veto one pair (a
   mother and son sharing a family email) without cutting the others. Records
   with nothing but the identifier (a consent event, a survey answer) link to
   every described record of the group; identity resolution attaches them
   only when those records turned out to be one person. A value shared by more described
   records than var cdp_max_shared_group (a shop's phone, a placeholder
   email) is not trusted pairwise: every record links to the group's first.
   Login links tie a device to the one account it logged into; a device that
   logged into several accounts (a shared family tablet) is left out.
   A link is undirected: record_key is the smaller key of the pair. #}
{%- set max_group = var('cdp_max_shared_group') -%}

with records as (

    select
        *,
        first_name_norm is not null or date_of_birth is not null as is_described
    from {{ ref('int_identity__records') }}

),

{% for key in var('cdp_deterministic_keys') %}
{{ key }}_members as (

    select
        record_key,
        {{ key }} as shared_value,
        is_described,
        sum(case when is_described then 1 else 0 end) over (partition by {{ key }}) as described_members,
        min(case when is_described then record_key end) over (partition by {{ key }}) as first_described,
        min(record_key) over (partition by {{ key }}) as first_member
    from records
    where {{ key }} is not null

),

{{ key }}_links as (

    -- Described records of a group: every pair, so that one pair can be vetoed.
    -- Records with nothing but the identifier: a link to every described record
    -- (identity resolution attaches them only when those are one person).
    select
        left_member.record_key,
        right_member.record_key as linked_record_key,
        '{{ key }}' as rule
    from {{ key }}_members as left_member
    inner join {{ key }}_members as right_member
        on right_member.shared_value = left_member.shared_value
        and right_member.record_key <> left_member.record_key
        and right_member.is_described
        and (not left_member.is_described or right_member.record_key > left_member.record_key)
    where left_member.described_members <= {{ max_group }}

    union all

    -- No described record (all are bare identifiers), or a value shared too
    -- widely to trust pairwise: one link to the group's first record.
    select
        record_key,
        first_member,
        '{{ key }}'
    from {{ key }}_members
    where described_members = 0 or described_members > {{ max_group }}

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

-- Each pair once per rule, as (smaller key, larger key), like Splink's pairs.
select distinct
    least(record_key, linked_record_key) as record_key,
    greatest(record_key, linked_record_key) as linked_record_key,
    rule
from all_links
where record_key <> linked_record_key
  and linked_record_key in (select record_key from records)
