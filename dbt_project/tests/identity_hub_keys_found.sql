{#- Hub keys found by this build, as a warning (why: tests/_tests.yml). -#}
{{ config(severity='warn') }}

select rule, key_value, record_count
from {{ ref('identity_hub_keys') }}
