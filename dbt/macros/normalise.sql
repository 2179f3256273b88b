{# Normalisation of identifiers, written once and used by every staging model. #}

{# Trimmed text with runs of whitespace collapsed; empty becomes null. #}
{% macro cdp_clean_text(expression) -%}
    nullif(trim({{ cdp_regex_replace_all(expression, '\\s+', ' ') }}), '')
{%- endmacro %}

{# For matching: lower case, accents folded, punctuation to spaces, trimmed. #}
{% macro cdp_fold(expression) -%}
    nullif(trim({{ cdp_regex_replace_all(cdp_strip_accents(expression), '[^a-z0-9]+', ' ') }}), '')
{%- endmacro %}

{# A name for matching: folded, and a digit read as the letter it is
   mistaken for (scanned forms, handwriting: 5arah, 8ecca, jame5, 0livia).
   Names hold no digits, so nothing real is lost. #}
{% macro cdp_fold_name(expression) -%}
    translate({{ cdp_fold(expression) }}, '0123456789', 'olzeasgtbg')
{%- endmacro %}

{# A first name for matching: folded as a name, and initials alone ("A. C.",
   "p a": a first and a middle initial) read as the first initial, which
   matches the full name it abbreviates. #}
{% macro cdp_first_name(expression) -%}
    {{ cdp_first_name_of_folded(cdp_fold_name(expression)) }}
{%- endmacro %}

{# The same, from the name already folded (cdp_fold_name): a column computed once. #}
{% macro cdp_first_name_of_folded(folded) -%}
    case when {{ cdp_regex_matches(folded, '^[a-z]( [a-z])+$') }} then substring({{ folded }}, 1, 1) else {{ folded }} end
{%- endmacro %}

{# Trimmed, lower case, no inner spaces; null unless it looks like an address. #}
{% macro cdp_normalise_email(expression) -%}
    case
        when {{ cdp_regex_matches(
            "lower(replace(trim(" ~ expression ~ "), ' ', ''))",
            '^[a-z0-9._%+''-]+@[a-z0-9.-]+\\.[a-z]{2,}$') }}
        then lower(replace(trim({{ expression }}), ' ', ''))
    end
{%- endmacro %}

{# Phone digits with the country code: national numbers (leading 0) take the
   calling code of the record's country (an SQL expression, see
   cdp_calling_code); 00 and + prefixes are international. #}
{% macro cdp_phone_digits(expression, calling_code) -%}
    {%- set kept = cdp_regex_replace_all("trim(" ~ expression ~ ")", '[^0-9+]', '') -%}
    {%- set only_digits = cdp_regex_replace_all(kept, '[^0-9]', '') -%}
    case
        when {{ kept }} like '+%' then {{ only_digits }}
        when {{ kept }} like '00%' then substring({{ only_digits }}, 3)
        when {{ kept }} like '0%' then {{ calling_code }} || substring({{ only_digits }}, 2)
        when length({{ only_digits }}) >= 11 then {{ only_digits }}
    end
{%- endmacro %}

{# E.164 from cdp_phone_digits: anything with fewer than 8 or more than 15
   digits is not a phone number and becomes null. #}
{% macro cdp_e164(digits) -%}
    case when length({{ digits }}) between 8 and 15 then '+' || {{ digits }} end
{%- endmacro %}

{# Device ids: trimmed, lower case. #}
{% macro cdp_normalise_device_id(expression) -%}
    lower(trim({{ expression }}))
{%- endmacro %}

{# Postcode for matching: upper case letters and digits only ("sw1a 1aa" -> "SW1A1AA"). #}
{% macro cdp_normalise_postcode(expression) -%}
    nullif(upper({{ cdp_regex_replace_all(expression, '[^A-Za-z0-9]', '') }}), '')
{%- endmacro %}

{# Identifiers such as loyalty card numbers: letters and digits only, upper case. #}
{% macro cdp_normalise_code(expression) -%}
    nullif(upper({{ cdp_regex_replace_all(expression, '[^A-Za-z0-9]', '') }}), '')
{%- endmacro %}

{# Country as an ISO 3166 alpha-2 code where a common spelling is recognised
   ("United Kingdom", "uk", "Great Britain" -> GB); other values upper-cased. #}
{% macro cdp_normalise_country(expression) -%}
    {%- set folded = cdp_fold(expression) -%}
    case {{ folded }}
        when 'gb' then 'GB' when 'uk' then 'GB' when 'united kingdom' then 'GB' when 'great britain' then 'GB'
        when 'england' then 'GB' when 'scotland' then 'GB' when 'wales' then 'GB' when 'northern ireland' then 'GB'
        when 'ie' then 'IE' when 'ireland' then 'IE' when 'republic of ireland' then 'IE' when 'eire' then 'IE'
        when 'fr' then 'FR' when 'france' then 'FR'
        when 'de' then 'DE' when 'germany' then 'DE'
        when 'us' then 'US' when 'usa' then 'US' when 'united states' then 'US'
        else upper({{ cdp_clean_text(expression) }})
    end
{%- endmacro %}

{# International calling code for an ISO country code expression, the
   configured default when the country is unknown or missing. #}
{% macro cdp_calling_code(country_expression, default_code) -%}
    case {{ country_expression }}
        when 'GB' then '44' when 'IE' then '353' when 'FR' then '33' when 'DE' then '49'
        when 'ES' then '34' when 'IT' then '39' when 'NL' then '31' when 'BE' then '32'
        when 'PL' then '48' when 'PT' then '351' when 'US' then '1' when 'CA' then '1'
        else '{{ default_code }}'
    end
{%- endmacro %}

{# Sex as 'm' or 'f', read from a code, a word or a title (M, male, Mr; F,
   female, Mrs, Ms, Miss); anything else (Dr, Mx, unknown) is null: no
   evidence either way. #}
{% macro cdp_sex(expression) -%}
    case lower(trim(replace({{ expression }}, '.', '')))
        when 'm' then 'm' when 'male' then 'm' when 'man' then 'm' when 'mr' then 'm' when 'mister' then 'm'
        when 'f' then 'f' when 'female' then 'f' when 'woman' then 'f' when 'mrs' then 'f' when 'ms' then 'f'
        when 'miss' then 'f' when 'madam' then 'f'
    end
{%- endmacro %}
