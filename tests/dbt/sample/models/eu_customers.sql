{{ config(materialized='view') }}
select id, name, country from {{ ref('customers') }} where country in ('DE', 'FI', 'NL')
