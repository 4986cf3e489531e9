{#-
    Warns (never fails) when a build found hub keys, so they appear in dbt's output, the run log
    and the run report's "What was rejected": records holding them were not linked on them.
-#}
{{ config(severity='warn') }}

select rule, key_value, record_count
from {{ ref('identity_hub_keys') }}
