//! Refusals over the wire: [`assert_denied`] posts a statement and asserts the status, the
//! stable error code, and that the engine was not called (the security tests' two halves).

use serde_json::{Value, json};

use super::{Cred, TestGateway, detail, post_statement};

/// POSTs `sql` as statement `name` for `cred` and asserts that it is refused with `status` and
/// `code` and that nothing reached the engine; returns the body (see [`detail`] for the text).
pub async fn assert_denied(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
    status: u16,
    code: &str,
) -> Value {
    assert_denied_with(gw, cred, name, sql, json!({}), status, code).await
}

/// [`assert_denied`] with extra statement properties (`null` removes a default one).
pub async fn assert_denied_with(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
    props: Value,
    status: u16,
    code: &str,
) -> Value {
    let before = gw.engine_calls();
    let (got, body) = post_statement(gw, cred, name, sql, props).await;
    assert_eq!(
        (got, body["errors"][0]["code"].as_str().unwrap_or_default()),
        (status, code),
        "{name}: {sql}: {}",
        detail(&body)
    );
    assert_eq!(
        gw.engine_calls(),
        before,
        "{name}: a refused statement reached the engine: {sql}"
    );
    body
}
