"""The unmodified `confluent-sql` driver reading Kafka topics through sqlgate.

Run by tests/kafka_tables.rs, which starts a broker and the gateway, produces records with a
plain rdkafka producer, and passes SQLGATE_ENDPOINT, SQLGATE_TOKEN (pool-dev), SSL_CERT_FILE
and SQLGATE_EXPECT (the JSON the `clicks` topic must read as). Exits non-zero on a failure.
"""

import json
import os

import confluent_sql as cs


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}")


def main():
    conn = cs.connect(
        endpoint=os.environ["SQLGATE_ENDPOINT"],
        organization_id="org-dev",
        environment_id="env-dev",
        database="lkc-dev",
        external_access_token=os.environ["SQLGATE_TOKEN"],
        identity_pool_id="pool-dev",
        result_page_fetch_pause_millis=10,
    )
    expect = json.loads(os.environ["SQLGATE_EXPECT"])

    cur = conn.cursor()
    cur.execute("SHOW TABLES")
    tables = [r[0] for r in cur.fetchall()]
    check("clicks" in tables and "raw_topic" in tables, f"SHOW TABLES lists the topics: {tables}")
    check(not any(t.startswith("_") for t in tables), "internal topics are hidden")
    cur.close()

    # A topic produced outside the gateway with a registered JSON schema: typed columns.
    cur = conn.cursor()
    cur.execute("SELECT user_id, url, ms FROM clicks ORDER BY ms")
    rows = [list(r) for r in cur.fetchall()]
    check(rows == expect, f"clicks reads as its schema's columns: {rows}")
    cur.close()

    # A topic without a schema: raw key and value.
    cur = conn.cursor()
    cur.execute("SELECT CAST(val AS STRING) AS v FROM raw_topic")
    vals = sorted(r[0] for r in cur.fetchall())
    check(vals == ["one", "two"], f"raw topic reads as bytes: {vals}")
    cur.close()
    print("kafka e2e: all checks passed")


if __name__ == "__main__":
    main()
