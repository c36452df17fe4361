-- Passes: every big customer spent more than 50.
select b.id from {{ ref('big_customers') }} b join {{ ref('customers') }} c on b.id = c.id
where c.amount <= 50
