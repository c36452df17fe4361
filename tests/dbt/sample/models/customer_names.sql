{{ config(materialized='streaming_table') }}
select id, name from {{ ref('customers') }}
