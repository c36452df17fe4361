"""The unmodified `confluent-sql` driver against sqlgate running its statements on Apache Flink.

Run by tests/flink_confluent_sql.rs, which starts Kafka, the registry, Flink and the gateway,
creates the `clicks` table, produces its records with a plain Kafka producer (record
timestamps 1 s … 25 s), and passes SQLGATE_ENDPOINT, SQLGATE_TOKEN (pool-dev), SSL_CERT_FILE
and SQLGATE_EXPECT (the windows the topic must aggregate to). Exits non-zero on a failure.
"""

import json
import os
import time

import confluent_sql as cs
from confluent_sql.statement import Op


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}")


WINDOWS = (
    "SELECT window_start, window_end, COUNT(*) AS n, SUM(amount) AS total "
    "FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(`$rowtime`), INTERVAL '10' SECOND)) "
    "GROUP BY window_start, window_end"
)


def main():
    conn = cs.connect(
        endpoint=os.environ["SQLGATE_ENDPOINT"],
        organization_id="org-dev",
        environment_id="env-dev",
        database="lkc-dev",
        external_access_token=os.environ["SQLGATE_TOKEN"],
        identity_pool_id="pool-dev",
        result_page_fetch_pause_millis=50,
    )
    expect = [tuple(w) for w in json.loads(os.environ["SQLGATE_EXPECT"])]

    # A snapshot TUMBLE window aggregation: every window of the topic, closed at its end.
    cur = conn.cursor()
    cur.execute(WINDOWS)
    rows = sorted((str(r[0]), str(r[1]), r[2], r[3]) for r in cur.fetchall())
    check(rows == expect, f"snapshot TUMBLE windows: {rows}")
    cur.close()

    # The same windows as a stream: each window arrives once the watermark passes its end
    # (the last one stays open: no later record moves the watermark past it).
    cur = conn.streaming_cursor()
    cur.execute(WINDOWS)
    got = []
    deadline = time.time() + 120
    while len(got) < len(expect) - 1 and cur.may_have_results and time.time() < deadline:
        got.extend(cur.fetchmany(10))
        time.sleep(0.2)
    got = sorted((str(r[0]), str(r[1]), r[2], r[3]) for r in got)
    check(got == expect[:-1], f"streaming TUMBLE windows as they close: {got}")
    cur.close()

    # A streaming GROUP BY: a changelog (+I, -U, +U) the compressor folds into the totals.
    cur = conn.streaming_cursor()
    cur.execute("SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id")
    check(cur.returns_changelog, "a streaming GROUP BY returns a changelog")
    events = []
    deadline = time.time() + 120
    while cur.may_have_results and time.time() < deadline:
        events.extend(cur.fetchmany(50))
        counts = {}
        for e in events:
            if e.op in (Op.INSERT, Op.UPDATE_AFTER):
                counts[e.row[0]] = e.row[1]
        if counts == {"u1": 4, "u2": 2}:
            break
        time.sleep(0.2)
    ops = {e.op for e in events}
    check(Op.UPDATE_BEFORE in ops and Op.UPDATE_AFTER in ops, f"-U and +U rows arrive: {ops}")
    check(counts == {"u1": 4, "u2": 2}, f"the changelog ends at the totals: {counts}")
    cur.close()

    # The same GROUP BY through the driver's changelog compressor: the statement names its
    # upsert key (the grouping column, index 0), so the compressor keeps one row per user,
    # ignores -U and replaces the row on +U; its final table is the totals.
    cur = conn.streaming_cursor()
    cur.execute("SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id")
    traits = cur.statement.traits
    check(traits is not None and traits.upsert_columns == [0], f"upsert_columns: {traits}")
    compressor = cur.changelog_compressor()
    check(
        type(compressor).__name__ == "UpsertColumnsCompressor",
        f"the driver picks its keyed compressor: {type(compressor).__name__}",
    )
    table = []
    deadline = time.time() + 120
    while cur.may_have_results and time.time() < deadline:
        table = sorted(tuple(r) for r in compressor.get_current_snapshot())
        if table == [("u1", 4), ("u2", 2)]:
            break
        time.sleep(0.2)
    check(table == [("u1", 4), ("u2", 2)], f"the compressed changelog is the totals: {table}")
    compressor.close()
    print("flink e2e: all checks passed")


if __name__ == "__main__":
    main()
