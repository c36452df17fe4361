-- Fails on purpose: the seed has one US customer. tests/dbt.rs runs this test alone and expects
-- dbt to report exactly one failing row, which shows dbt's tests read real rows through the gateway.
{{ config(tags=['expect_fail']) }}
select id from {{ ref('customers') }} where country = 'US'
