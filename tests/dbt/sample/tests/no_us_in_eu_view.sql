-- Passes: the view keeps only European customers.
select id from {{ ref('eu_customers') }} where country = 'US'
