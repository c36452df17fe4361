"""End-to-end checks with the unmodified `confluent-sql` DB-API driver against a running sqlgate.

Run by tests/e2e_confluent_sql.rs, which starts the gateway and passes:
  SQLGATE_ENDPOINT, SQLGATE_TOKEN (a pool-dev token), SQLGATE_API_KEY / SQLGATE_API_SECRET
  (an API key whose principal has the developer bindings), SQLGATE_DENIED_KEY /
  SQLGATE_DENIED_SECRET (User:sa-denied: may run statements, has no table roles),
  SSL_CERT_FILE (the dev CA).
Every check raises on failure; the script exits non-zero on the first one.
"""

import datetime
import decimal
import os
import statistics
import sys
import time
import uuid

import confluent_sql as cs

ENDPOINT = os.environ["SQLGATE_ENDPOINT"]
COMMON = dict(
    endpoint=ENDPOINT,
    organization_id="org-dev",
    environment_id="env-dev",
    database="lkc-dev",
    result_page_fetch_pause_millis=10,
)


def connect(mode):
    if mode == "pool":
        return cs.connect(
            external_access_token=os.environ["SQLGATE_TOKEN"], identity_pool_id="pool-dev", **COMMON
        )
    if mode == "apikey":
        return cs.connect(
            flink_api_key=os.environ["SQLGATE_API_KEY"],
            flink_api_secret=os.environ["SQLGATE_API_SECRET"],
            **COMMON,
        )
    if mode == "denied":
        return cs.connect(
            flink_api_key=os.environ["SQLGATE_DENIED_KEY"],
            flink_api_secret=os.environ["SQLGATE_DENIED_SECRET"],
            **COMMON,
        )
    raise ValueError(mode)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}")


TYPES_SQL = """
SELECT
  CAST(NULL AS INT) AS n,
  TRUE AS b,
  CAST(-42 AS TINYINT) AS ti,
  CAST(1234 AS SMALLINT) AS si,
  CAST(123456 AS INT) AS i,
  CAST(9007199254740993 AS BIGINT) AS bi,
  CAST('1.50' AS DECIMAL(3, 2)) AS dec,
  CAST(1.5 AS FLOAT) AS f,
  CAST(2.25 AS DOUBLE) AS d,
  DATE '2024-01-02' AS dt,
  TIME '03:04:05' AS tm,
  TIMESTAMP '2024-01-02 03:04:05.123' AS ts,
  CAST(TIMESTAMP '2024-01-02 03:04:05.123' AS TIMESTAMP_LTZ(3)) AS ltz,
  INTERVAL '1' DAY AS ids,
  INTERVAL '1-6' YEAR TO MONTH AS iym,
  CAST('ab' AS CHAR(2)) AS c,
  CAST('xyz' AS VARCHAR(10)) AS vc,
  CAST('hello' AS STRING) AS s,
  X'7f02' AS by,
  CAST(X'7f02' AS BINARY(2)) AS bin,
  CAST(X'0a0b0c' AS VARBINARY(8)) AS vbin,
  NULL AS untyped
"""


def scalar_types(conn):
    cur = conn.cursor()
    cur.execute(TYPES_SQL)
    names = [d[0] for d in cur.description]
    types = dict((d[0], d[1]) for d in cur.description)
    row = cur.fetchall()[0]
    got = dict(zip(names, row))
    check(types["i"] == "INTEGER" and types["bi"] == "BIGINT", "integer type names")
    check(types["ts"] == "TIMESTAMP_WITHOUT_TIME_ZONE", "timestamp uses the long type name")
    check(types["ltz"] == "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "timestamp_ltz uses the long type name")
    check(types["iym"] == "INTERVAL_YEAR_MONTH", "year-month interval type")
    check(got["n"] is None, "NULL decodes to None")
    check(got["b"] is True, "BOOLEAN decodes to True")
    check(got["ti"] == -42, "TINYINT")
    check(got["si"] == 1234, "SMALLINT")
    check(got["i"] == 123456, "INTEGER")
    check(got["bi"] == 9007199254740993, "BIGINT keeps all 64 bits")
    check(got["dec"] == decimal.Decimal("1.50"), "DECIMAL(3,2)")
    check(abs(got["f"] - 1.5) < 1e-6, "FLOAT")
    check(got["d"] == 2.25, "DOUBLE")
    check(got["dt"] == datetime.date(2024, 1, 2), "DATE")
    check(got["tm"] == datetime.time(3, 4, 5), "TIME")
    check(got["ts"] == datetime.datetime(2024, 1, 2, 3, 4, 5, 123000), "TIMESTAMP(3)")
    check(
        got["ltz"] == datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.timezone.utc),
        "TIMESTAMP_LTZ(3) in UTC",
    )
    check(got["ids"] == datetime.timedelta(days=1), "INTERVAL DAY TO SECOND")
    check((got["iym"].years, got["iym"].months) == (1, 6), "INTERVAL YEAR TO MONTH")
    check(got["c"] == "ab", "CHAR")
    check(got["vc"] == "xyz", "VARCHAR")
    check(got["s"] == "hello", "STRING")
    check(got["by"] == b"\x7f\x02", "BYTES")
    check(got["bin"] == b"\x7f\x02", "BINARY(2)")
    check(got["vbin"] == b"\x0a\x0b\x0c", "VARBINARY(8)")
    check(got["untyped"] is None, "untyped NULL")
    cur.close()


def examples_query(conn):
    cur = conn.cursor()
    cur.execute(
        "SELECT customer_id, COUNT(*) AS n FROM examples.marketplace.orders "
        "GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 5"
    )
    rows = cur.fetchall()
    check(len(rows) == 5 and all(r[1] >= 1 for r in rows), "query over examples.marketplace.orders")
    cur.close()


def refused(denied_conn, table):
    # The denied principal may run statements (FlinkDeveloper) but has no role on the table.
    cur = denied_conn.cursor()
    try:
        cur.execute(f"SELECT * FROM {table}")
    except cs.OperationalError as e:
        msg = str(e)
        check("403" in msg, f"refusal is a 403 ({msg[:160]})")
        check(
            "User:sa-denied" in msg and "DeveloperRead" in msg and table in msg,
            "the client's error names the principal, the table and the missing role",
        )
    else:
        raise AssertionError("a principal without a role on the table read it")


def ddl_dml(conn, tag):
    table = f"e2e_{tag}_{uuid.uuid4().hex[:8]}"
    conn.execute_snapshot_ddl(f"CREATE TABLE {table} (id INT, name STRING, amount DECIMAL(10, 2))")
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (1, 'a', 1.25), (2, 'b', 2.50), (3, NULL, NULL)")
    cur.close()
    cur = conn.cursor()
    cur.execute(f"SELECT id, name, amount FROM `env-dev`.`lkc-dev`.{table} ORDER BY id")
    rows = cur.fetchall()
    check(
        [tuple(r) for r in rows]
        == [(1, "a", decimal.Decimal("1.25")), (2, "b", decimal.Decimal("2.50")), (3, None, None)],
        f"CREATE TABLE + INSERT + SELECT round trip on {table}",
    )
    cur.close()
    return table


def information_schema(conn, denied_conn, table):
    # dbt-confluent 0.4.1's list_schemas and list_relations, as its macros render them.
    cur = conn.cursor()
    cur.execute(
        "SELECT SCHEMA_NAME as schema FROM `env-dev`.`INFORMATION_SCHEMA`.`SCHEMATA` "
        "WHERE `SCHEMA_NAME` <> 'INFORMATION_SCHEMA'"
    )
    check([tuple(r) for r in cur.fetchall()] == [("main",)], "INFORMATION_SCHEMA.SCHEMATA lists main")
    cur.close()
    relations = (
        "SELECT TABLE_CATALOG_ID as database, TABLE_NAME as name, TABLE_SCHEMA as schema, "
        "TABLE_TYPE as type FROM INFORMATION_SCHEMA.`TABLES` "
        "WHERE TABLE_CATALOG_ID = 'env-dev' AND TABLE_SCHEMA = 'main'"
    )
    cur = conn.cursor()
    cur.execute(relations)
    rows = [tuple(r) for r in cur.fetchall()]
    check(("env-dev", table, "main", "BASE TABLE") in rows, f"INFORMATION_SCHEMA.TABLES lists {table}")
    cur.close()
    cur = conn.cursor()
    cur.execute(
        "SELECT COLUMN_NAME, FULL_DATA_TYPE, ORDINAL_POSITION FROM INFORMATION_SCHEMA.`COLUMNS` "
        f"WHERE TABLE_SCHEMA = 'main' AND TABLE_NAME = '{table}' AND IS_HIDDEN = 'NO'"
    )
    rows = sorted(tuple(r) for r in cur.fetchall())
    check(
        rows == [("amount", "DECIMAL(10, 2)", 3), ("id", "INT", 1), ("name", "VARCHAR(2147483647)", 2)],
        f"INFORMATION_SCHEMA.COLUMNS describes {table} ({rows})",
    )
    cur.close()
    # A principal without a role on the table does not see it listed.
    cur = denied_conn.cursor()
    cur.execute(relations)
    names = [r[1] for r in cur.fetchall()]
    check(table not in names, "INFORMATION_SCHEMA.TABLES hides a table the caller may not see")
    cur.close()


def streaming_bounded(conn, table):
    cur = conn.streaming_cursor()
    cur.execute(f"SELECT id FROM {table} WHERE id >= 2 ORDER BY id")
    got = []
    deadline = time.time() + 20
    while cur.may_have_results and time.time() < deadline:
        got.extend(r[0] for r in cur.fetchmany(10))
    check(got == [2, 3], "streaming cursor reads a bounded query to its end")
    cur.close()


def list_stop_delete(conn, tag):
    name = f"e2e-list-{tag}-{uuid.uuid4().hex[:8]}"
    cur = conn.cursor()
    cur.execute("SELECT 1", statement_name=name, statement_labels=[f"e2e-{tag}"])
    cur.fetchall()
    listed = conn.list_statements(label=f"e2e-{tag}")
    check([s.name for s in listed] == [name], "list_statements filters by label")
    stopped = conn.stop_statement(name)
    check(stopped.name == name, "stop_statement answers for a finished statement")
    conn.delete_statement(name)
    try:
        conn.get_statement(name)
    except cs.StatementNotFoundError:
        print("  ok: deleted statement is gone")
    else:
        raise AssertionError("statement still there after delete")


def latency(conn, n=20):
    samples = []
    for _ in range(n):
        cur = conn.cursor()
        t0 = time.perf_counter()
        cur.execute("SELECT 1")
        cur.fetchall()
        samples.append(time.perf_counter() - t0)
        cur.close()
    return statistics.median(samples)


def main():
    denied = connect("denied")
    for mode in ("pool", "apikey"):
        print(f"[{mode}]")
        conn = connect(mode)
        scalar_types(conn)
        examples_query(conn)
        table = ddl_dml(conn, mode)
        refused(denied, table)
        information_schema(conn, denied, table)
        streaming_bounded(conn, table)
        list_stop_delete(conn, mode)
        med = latency(conn)
        print(f"  SELECT 1 via confluent-sql ({mode}): median of 20 = {med * 1000:.1f} ms")
        conn.close()
    print("e2e: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure as a non-zero exit
        print(f"e2e FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
