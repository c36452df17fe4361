//! JSON shapes of the `sql/v1` statements API (the contract in `shared/contracts`).
//!
//! Owns request parsing (with person-readable rejections) and the response objects. It does
//! not decide anything: handlers and the pipeline do.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::record::StatementRecord;

/// Body of `POST …/statements`.
#[derive(Debug, Deserialize)]
pub struct CreateStatementRequest {
    /// Statement name, unique within the environment.
    pub name: String,
    /// Must equal the path's organization when present.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Must equal the path's environment when present.
    #[serde(default)]
    pub environment_id: Option<String>,
    /// What to run.
    pub spec: CreateSpec,
    /// Optional labels.
    #[serde(default)]
    pub metadata: Option<CreateMetadata>,
}

/// `spec` of a create request. Client-supplied `principal` is ignored: the principal is who
/// authenticated.
#[derive(Debug, Deserialize)]
pub struct CreateSpec {
    /// The SQL text.
    pub statement: String,
    /// `sql.*` properties; values may be strings, numbers or booleans and are kept as strings.
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
    /// Creating a stopped statement is not supported; `true` is refused.
    #[serde(default)]
    pub stopped: bool,
    /// Compute pool; absent means the environment's default pool.
    #[serde(default)]
    pub compute_pool_id: Option<String>,
}

/// `metadata` of a create request.
#[derive(Debug, Deserialize, Default)]
pub struct CreateMetadata {
    /// `user.confluent.io/<label>: "true"` pairs.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Turns property values into the strings the API models them as.
pub fn stringify_properties(
    props: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, String> {
    props
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => {
                    return Err(format!(
                        "property `{k}` must be a string, number or boolean, not {}",
                        kind_of(&other)
                    ));
                }
            };
            Ok((k, s))
        })
        .collect()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks a statement name: lower-case letters, digits and `-`, starting with a letter or
/// digit, at most 100 characters (what Confluent accepts and what both clients generate).
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "statement name `{}` is invalid: use 1-100 lower-case letters, digits and '-', starting with a letter or digit",
            name.chars().take(120).collect::<String>()
        ))
    }
}

/// `PATCH` body item (`application/json-patch+json`).
#[derive(Debug, Deserialize)]
pub struct PatchOp {
    /// Only `replace` is supported.
    pub op: String,
    /// Only `/spec/stopped` is supported.
    pub path: String,
    /// The new value.
    #[serde(default)]
    pub value: Value,
}

/// The wire Statement object. `base` is the absolute environment URL
/// (`https://host/sql/v1/organizations/o/environments/e`).
pub fn statement(r: &StatementRecord, base: &str) -> Value {
    let s = &r.state;
    let mut status = json!({
        "phase": s.phase.as_str(),
        "detail": s.detail,
    });
    if let Some(t) = &s.traits {
        status["traits"] = t.clone();
    }
    // What Confluent shows of a statement waiting for its compute pool (clients such as
    // confluent-sql key their `ComputePoolExhaustedError` on it).
    if s.pool_exhausted && s.phase == super::record::Phase::Pending {
        status["scaling_status"] = json!({
            "scaling_state": "POOL_EXHAUSTED",
            "last_updated": timestamp(s.updated_at),
        });
    }
    json!({
        "api_version": "sql/v1",
        "kind": "Statement",
        "name": r.name,
        "organization_id": r.organization_id,
        "environment_id": r.environment_id,
        "metadata": {
            "self": format!("{base}/statements/{}", r.name),
            "uid": r.uid,
            "resource_version": s.resource_version.to_string(),
            "created_at": timestamp(r.created_at),
            "updated_at": timestamp(s.updated_at),
            "labels": r.labels,
        },
        "spec": {
            "statement": r.spec.statement,
            "properties": r.spec.properties,
            "stopped": s.stopped,
            "compute_pool_id": r.spec.compute_pool_id,
            "principal": r.owner,
        },
        "status": status,
    })
}

/// RFC 3339 with milliseconds and `Z`, as the API shows times.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Response of the results route.
#[derive(Debug, Serialize)]
pub struct StatementResult {
    /// Always `sql/v1`.
    pub api_version: &'static str,
    /// Always `StatementResult`.
    pub kind: &'static str,
    /// `self` and `next` URLs.
    pub metadata: ResultMetadata,
    /// The rows of this page.
    pub results: ResultData,
}

/// `metadata` of a results page.
#[derive(Debug, Serialize)]
pub struct ResultMetadata {
    /// This page's URL.
    #[serde(rename = "self")]
    pub self_url: String,
    /// Absolute URL of the next page, `""` when there is none.
    pub next: String,
}

/// `results` of a results page.
#[derive(Debug, Serialize)]
pub struct ResultData {
    /// `{"op": n, "row": [...]}` items.
    pub data: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statements::record::Spec;

    #[test]
    fn wire_object_has_what_clients_require() {
        let r = StatementRecord::new(
            "a".into(),
            "org".into(),
            "env".into(),
            "User:x".into(),
            Spec {
                statement: "SELECT 1".into(),
                properties: BTreeMap::new(),
                compute_pool_id: "lfcp-dev".into(),
            },
            BTreeMap::new(),
            Utc::now(),
        );
        let v = statement(&r, "https://h/sql/v1/organizations/org/environments/env");
        for path in [
            "/name",
            "/metadata/uid",
            "/spec/principal",
            "/spec/compute_pool_id",
            "/status/phase",
            "/status/detail",
        ] {
            assert!(v.pointer(path).is_some(), "{path} missing");
        }
        assert_eq!(
            v["metadata"]["self"],
            "https://h/sql/v1/organizations/org/environments/env/statements/a"
        );
    }

    #[test]
    fn names_follow_the_clients_alphabet() {
        assert!(validate_name("dbapi-533f1851-b036-4517-8992-5b1f653e53ca").is_ok());
        assert!(validate_name("dbt-proj-model-ddl").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("Upper").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name(&"a".repeat(101)).is_err());
    }

    #[test]
    fn property_values_are_coerced_to_strings() {
        let props: BTreeMap<String, Value> = serde_json::from_value(json!({
            "a": "x", "b": 3, "c": true
        }))
        .unwrap();
        let s = stringify_properties(props).unwrap();
        assert_eq!(s["a"], "x");
        assert_eq!(s["b"], "3");
        assert_eq!(s["c"], "true");
        let bad: BTreeMap<String, Value> = serde_json::from_value(json!({"d": {"x": 1}})).unwrap();
        assert!(
            stringify_properties(bad)
                .unwrap_err()
                .contains("property `d`")
        );
    }
}
