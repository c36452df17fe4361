//! The `create_statement_request` target: a request body as `POST …/statements` and
//! `PATCH …/statements/{name}` read it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::assert_clean_refusal;
use crate::error::ApiError;
use crate::http::body::decode_json;
use crate::statements::wire::{self, CreateStatementRequest, PatchOp};
use crate::statements::{Spec, StatementRecord};

/// The organization and environment of the request URL.
const ORGANIZATION: &str = "org-dev";
const ENVIRONMENT: &str = "env-dev";

/// `data` as a create body: `decode_json`, then the request checks of
/// [`crate::pipeline::create_statement`] in its order (name, organization and environment,
/// `stopped`, properties), then the Statement the API would answer with, which must carry
/// the statement text, properties and labels exactly as sent. Also `data` as a patch body.
pub fn create_statement_request(data: &[u8]) {
    match decode_json::<CreateStatementRequest>(data) {
        Ok(req) => check_create(req),
        Err(e) => assert_clean_refusal(ApiError::from(e), &data.len()),
    }
    if let Err(e) = decode_json::<Vec<PatchOp>>(data) {
        assert_clean_refusal(ApiError::from(e), &data.len());
    }
}

fn check_create(req: CreateStatementRequest) {
    if let Err(m) = wire::validate_name(&req.name) {
        return assert_clean_refusal(ApiError::invalid(m), &req.name);
    }
    if req
        .organization_id
        .as_deref()
        .is_some_and(|o| o != ORGANIZATION)
        || req
            .environment_id
            .as_deref()
            .is_some_and(|e| e != ENVIRONMENT)
    {
        return;
    }
    if req.spec.stopped {
        return;
    }
    let sent: Vec<String> = req.spec.properties.keys().cloned().collect();
    let raw = req.spec.properties.clone();
    let properties = match wire::stringify_properties(req.spec.properties) {
        Ok(p) => p,
        Err(m) => {
            assert!(
                raw.values()
                    .any(|v| matches!(v, Value::Null | Value::Array(_) | Value::Object(_))),
                "stringify_properties refused only scalar values: {m}"
            );
            return assert_clean_refusal(ApiError::invalid(m), &sent);
        }
    };
    assert_eq!(
        properties.keys().cloned().collect::<Vec<_>>(),
        sent,
        "stringify_properties changed the property names"
    );
    for (k, v) in &raw {
        if let Value::String(s) = v {
            assert_eq!(&properties[k], s, "a string property was changed");
        }
    }
    let labels: BTreeMap<String, String> = req.metadata.map(|m| m.labels).unwrap_or_default();
    let statement = req.spec.statement;
    let record = StatementRecord::new(
        req.name.clone(),
        ORGANIZATION.into(),
        ENVIRONMENT.into(),
        "User:pool-dev".into(),
        Spec {
            statement: statement.clone(),
            properties: properties.clone(),
            compute_pool_id: req
                .spec
                .compute_pool_id
                .unwrap_or_else(|| "lfcp-dev".into()),
        },
        labels.clone(),
        chrono::Utc::now(),
    );
    let wire = wire::statement(
        &record,
        "https://127.0.0.1:8443/sql/v1/organizations/org-dev/environments/env-dev",
    );
    let echoed: Value =
        serde_json::from_slice(&serde_json::to_vec(&wire).expect("a Statement always serializes"))
            .expect("a serialized Statement parses");
    assert_eq!(echoed["name"], Value::String(req.name));
    assert_eq!(echoed["spec"]["statement"], Value::String(statement));
    assert_eq!(
        echoed["spec"]["properties"],
        serde_json::to_value(&properties).expect("strings serialize")
    );
    assert_eq!(
        echoed["metadata"]["labels"],
        serde_json::to_value(&labels).expect("strings serialize")
    );
}
