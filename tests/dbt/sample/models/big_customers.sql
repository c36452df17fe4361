{{ config(materialized='table') }}
select id, name, country from {{ ref('customers') }} where amount > 50
