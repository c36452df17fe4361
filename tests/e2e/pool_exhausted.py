"""The unmodified `confluent-sql` driver meets an exhausted compute pool.

Run by tests/compute_pools.rs after it filled the pool's one task slot. Passes SQLGATE_ENDPOINT,
SQLGATE_TOKEN (a pool-dev token) and SSL_CERT_FILE. The driver must see what Confluent shows
(PENDING, scaling_status POOL_EXHAUSTED), delete the statement and raise
ComputePoolExhaustedError; prints the statement's name for the test to check.
"""

import os

import confluent_sql as cs

conn = cs.connect(
    endpoint=os.environ["SQLGATE_ENDPOINT"],
    organization_id="org-dev",
    environment_id="env-dev",
    database="lkc-dev",
    external_access_token=os.environ["SQLGATE_TOKEN"],
    identity_pool_id="pool-dev",
)
cursor = conn.cursor()
try:
    cursor.execute("SELECT * FROM examples.marketplace.products", timeout=30)
except cs.ComputePoolExhaustedError as e:
    if not e.statement_deleted:
        raise AssertionError(f"the driver could not delete the statement: {e}")
    print(f"exhausted: {e.statement_name}")
    print("pool: done")
else:
    raise AssertionError("expected ComputePoolExhaustedError")
