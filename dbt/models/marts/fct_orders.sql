{# Every order line of every orders source (e-commerce, POS, ...) in one
   grain, with the person who placed it. Lines without an identifiable
   record (anonymous receipts) keep person_id null and still count in demand.
   Money is DECIMAL: unit_price and amount at the source's scale, in the
   line's currency. This is the one place amounts are converted to the
   reporting currency (seed currency_rates; a line without a currency is
   taken to be in the reporting currency), rounded once to 2 decimals.
   A negative amount is a refund (sources with allow_refunds: true).
   Incremental (macros/incremental.sql): a run rebuilds the lines loaded
   since the last build and the lines of records whose person changed. #}
{{ config(materialized=cdp_incremental_materialization(), unique_key='order_line_key', incremental_strategy=cdp_incremental_strategy(),
          on_schema_change='append_new_columns') }}
{%- set columns = ['order_id', 'line_id', 'ordered_at', 'product_id', 'category', 'quantity',
                    'unit_price', 'amount', 'currency', 'channel', 'store_id', 'sales_region', '_loaded_at'] %}
{%- if cdp_is_incremental() %}
{#- The lines to rebuild: loaded since the last build, or of a record whose person changed
    (staged from their raw rows, not through the staging views). #}
{%- set to_rebuild -%}
    {{ cdp_loaded_since_last_build('{0}._loaded_at') }}
       or exists (select 1 from records_with_a_new_person as moved
                  where moved.source = {0}.source and moved.source_record_id = {0}.source_record_id)
{%- endset %}
with records_with_a_new_person as (
    {{ cdp_records_with_a_new_person() }}
),

order_lines as (
    select * from ({{ cdp_kind_rows('orders', columns, only_keys_where=to_rebuild.replace('{0}', 'keys')) }}) as staged
    where {{ to_rebuild.replace('{0}', 'staged') }}
)
{%- else %}
with order_lines as (
    {{ cdp_kind_rows('orders', columns) }}
)
{%- endif %}

select
    {{ dbt.concat(['order_lines.source', "':'", 'order_lines.line_id']) }} as order_line_key,
    {{ dbt.concat(['order_lines.source', "':'", 'order_lines.order_id']) }} as order_key,
    order_lines.person_id,
    order_lines.source,
    order_lines.source_record_id,
    order_lines.order_id,
    order_lines.line_id,
    order_lines.ordered_at,
    cast(order_lines.ordered_at as date) as order_date,
    order_lines.product_id,
    order_lines.category,
    order_lines.quantity,
    order_lines.unit_price,
    order_lines.amount,
    order_lines.currency,
    {{ cdp_money('order_lines.amount * coalesce(rates.to_reporting_currency, 1)') }} as amount_reporting,
    order_lines.amount < 0 as is_refund,
    order_lines.currency is not null and rates.currency is null as is_unconverted_currency,
    order_lines.channel,
    order_lines.store_id,
    order_lines.sales_region,
    order_lines._loaded_at
from order_lines
left join {{ ref('currency_rates') }} as rates
    on rates.currency = order_lines.currency
