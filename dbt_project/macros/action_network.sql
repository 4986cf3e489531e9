{#-
    The referrer data Action Network attaches to an action (`action_network:referrer_data`, flattened
    by dlt): the source code of the link followed, the referrer code of whoever shared it, the
    website, and the email and mobile message whose link was followed. Action Network writes
    "none" where there is none: read as null.
-#}
{% macro action_network_referrer_columns() -%}
    nullif(action_network_referrer_data__source, 'none') as referrer_source,
        nullif(action_network_referrer_data__referrer, 'none') as referrer_code,
        nullif(action_network_referrer_data__website, 'none') as referrer_website,
        nullif(action_network_referrer_data__email_referrer, 'none') as email_referrer,
        nullif(action_network_referrer_data__mobile_referrer, 'none') as mobile_referrer
{%- endmacro %}
