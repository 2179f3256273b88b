{# Generic test: the column is below `other` on every row (e.g. a pair stored in order). #}
{% test cdp_less_than(model, column_name, other) %}
select *
from {{ model }}
where not ({{ column_name }} < {{ other }})
{% endtest %}
