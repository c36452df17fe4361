//! Subjects in a Confluent Schema Registry, over the documented REST API.
//!
//! Owns the HTTP calls, their bounds and the mapping of registry answers to
//! [`SubjectError`]. Uses only this subset of the API: `GET /subjects`,
//! `GET /subjects/{s}/versions/latest`, `POST /subjects/{s}/versions` (register),
//! `POST /subjects/{s}` (look up the version a schema got), `DELETE /subjects/{s}`
//! (soft, then `?permanent=true`) and `GET /schemas/ids/{id}` (the writer schema of a record).
//! Compatibility and normalisation are the registry's business.
//!
//! Errors: no answer in `request_timeout`, a connection failure, 5xx, 408 or 429 →
//! `Unavailable` (naming the registry URL, never its credentials); any other 4xx (409
//! incompatible, 422 invalid, 401/403) → `Rejected` with the registry's `message`.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Client, Method, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::{RegisteredSchema, SchemaType, SubjectError};
use crate::kafka::KafkaClusterConfig;

/// The registry's media type, for request bodies.
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// What we accept back (registries answer either).
const ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/json";
/// `error_code` of "Subject not found".
const SUBJECT_NOT_FOUND: i64 = 40401;
/// `error_code` of "Version not found" (a subject whose versions are all soft-deleted).
const VERSION_NOT_FOUND: i64 = 40402;
/// `error_code` of "Schema not found" (an id the registry never handed out).
const SCHEMA_NOT_FOUND: i64 = 40403;
/// `error_code` of "Subject was soft deleted" (answered to a second soft delete).
const SUBJECT_SOFT_DELETED: i64 = 40404;
/// Path-segment escaping: everything but RFC 3986 unreserved characters, so a subject
/// containing `/`, `?`, `%` or spaces stays one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// At most this much of a non-JSON error body goes into a message.
const MAX_BODY_IN_MESSAGE: usize = 200;

/// A Schema Registry REST client for one cluster.
pub(super) struct RegistryClient {
    /// Base URL without a trailing `/`; paths are appended to it.
    base: String,
    /// The base URL without user info, for messages.
    shown: String,
    /// HTTP Basic credentials (`key`, `secret`).
    auth: Option<(String, String)>,
    /// Bounded by `request_timeout` for connect and for the whole exchange.
    http: Client,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.shown)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One version as the registry returns it (latest, lookup).
#[derive(Deserialize)]
struct SchemaBody {
    subject: String,
    version: i32,
    id: u32,
    #[serde(rename = "schemaType")]
    schema_type: Option<SchemaType>,
    schema: String,
}

/// A schema by id (`GET /schemas/ids/{id}`).
#[derive(Deserialize)]
struct SchemaByIdBody {
    #[serde(rename = "schemaType")]
    schema_type: Option<SchemaType>,
    schema: String,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

#[derive(Serialize)]
struct RegisterBody<'a> {
    schema: &'a str,
    /// Omitted for AVRO, the registry's default (older registries know no other key).
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<SchemaType>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

/// A complete answer: status and body.
struct Reply {
    status: StatusCode,
    body: bytes::Bytes,
}

impl Reply {
    fn error_code(&self) -> Option<i64> {
        serde_json::from_slice::<ErrorBody>(&self.body)
            .ok()
            .and_then(|e| e.error_code)
    }

    /// A 404 whose `error_code` is one of `codes`.
    fn not_found(&self, codes: &[i64]) -> bool {
        self.status == StatusCode::NOT_FOUND
            && self.error_code().is_some_and(|c| codes.contains(&c))
    }

    /// The registry's own explanation, else the start of the body, else the status reason.
    fn message(&self) -> String {
        if let Ok(ErrorBody {
            message: Some(m), ..
        }) = serde_json::from_slice::<ErrorBody>(&self.body)
        {
            return m;
        }
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        if text.is_empty() {
            return self
                .status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string();
        }
        text.chars().take(MAX_BODY_IN_MESSAGE).collect()
    }
}

// === impl RegistryClient ===

impl RegistryClient {
    pub(super) fn new(url: &str, cfg: &KafkaClusterConfig) -> Result<Self, SubjectError> {
        let invalid = |m: String| SubjectError::Invalid(m);
        let parsed = url::Url::parse(url)
            .map_err(|e| invalid(format!("schema_registry_url `{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "schema_registry_url `{url}` must be http:// or https://"
            )));
        }
        let mut shown = parsed.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let auth = match &cfg.schema_registry_basic_auth {
            None => None,
            Some(kv) => match kv.split_once(':') {
                Some((k, v)) => Some((k.to_string(), v.to_string())),
                None => {
                    return Err(invalid(
                        "schema_registry_basic_auth must be `key:secret`".into(),
                    ));
                }
            },
        };
        let http = Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout)
            // Never follow a redirect with the credentials to somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sqlgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(format!("cannot build the registry HTTP client: {e}")))?;
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            shown: shown.as_str().trim_end_matches('/').to_string(),
            auth,
            http,
        })
    }

    pub(super) async fn latest(
        &self,
        subject: &str,
    ) -> Result<Option<RegisteredSchema>, SubjectError> {
        let what = format!("latest version of `{subject}`");
        let reply = self
            .call(
                Method::GET,
                &format!("{}/versions/latest", path(subject)),
                None,
            )
            .await?;
        if reply.not_found(&[SUBJECT_NOT_FOUND, VERSION_NOT_FOUND]) {
            return Ok(None);
        }
        let body: SchemaBody = self.expect_ok(&what, &reply)?;
        Ok(Some(RegisteredSchema {
            subject: body.subject,
            version: body.version,
            id: body.id,
            schema_type: body.schema_type.unwrap_or(SchemaType::Avro),
            schema: body.schema,
        }))
    }

    pub(super) async fn register(
        &self,
        subject: &str,
        schema_type: SchemaType,
        schema: &str,
    ) -> Result<RegisteredSchema, SubjectError> {
        let what = format!("register `{subject}`");
        let body = serde_json::to_vec(&RegisterBody {
            schema,
            schema_type: (schema_type != SchemaType::Avro).then_some(schema_type),
        })
        .map_err(|e| SubjectError::Invalid(format!("{what}: {e}")))?;
        let reply = self
            .call(
                Method::POST,
                &format!("{}/versions", path(subject)),
                Some(body.clone()),
            )
            .await?;
        let IdBody { id } = self.expect_ok(&what, &reply)?;
        // The answer names only the id; the lookup says which version holds this schema
        // (a new one, or the existing one an identical schema was registered as).
        let what = format!("look up the version registered under `{subject}`");
        let reply = self.call(Method::POST, &path(subject), Some(body)).await?;
        let found: SchemaBody = self.expect_ok(&what, &reply)?;
        Ok(RegisteredSchema {
            subject: subject.to_string(),
            version: found.version,
            id,
            schema_type,
            schema: schema.to_string(),
        })
    }

    pub(super) async fn delete(&self, subject: &str) -> Result<bool, SubjectError> {
        let reply = self.call(Method::DELETE, &path(subject), None).await?;
        let existed = if reply.not_found(&[SUBJECT_NOT_FOUND]) {
            return Ok(false);
        } else if reply.not_found(&[SUBJECT_SOFT_DELETED]) {
            // Soft-deleted earlier: invisible already, but still purge it.
            false
        } else {
            self.expect_ok::<Vec<i32>>(&format!("delete `{subject}`"), &reply)?;
            true
        };
        let reply = self
            .call(
                Method::DELETE,
                &format!("{}?permanent=true", path(subject)),
                None,
            )
            .await?;
        if !reply.not_found(&[SUBJECT_NOT_FOUND]) {
            self.expect_ok::<Vec<i32>>(&format!("permanently delete `{subject}`"), &reply)?;
        }
        Ok(existed)
    }

    pub(super) async fn schema_by_id(
        &self,
        id: u32,
    ) -> Result<Option<(SchemaType, String)>, SubjectError> {
        let reply = self
            .call(Method::GET, &format!("/schemas/ids/{id}"), None)
            .await?;
        if reply.not_found(&[SCHEMA_NOT_FOUND]) {
            return Ok(None);
        }
        let body: SchemaByIdBody = self.expect_ok(&format!("schema id {id}"), &reply)?;
        Ok(Some((
            body.schema_type.unwrap_or(SchemaType::Avro),
            body.schema,
        )))
    }

    pub(super) async fn subjects(&self) -> Result<Vec<String>, SubjectError> {
        let reply = self.call(Method::GET, "/subjects", None).await?;
        self.expect_ok("list subjects", &reply)
    }

    /// Sends one request and reads the whole answer, within `request_timeout`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, SubjectError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(header::ACCEPT, ACCEPT);
        if let Some(body) = body {
            req = req.header(header::CONTENT_TYPE, MEDIA_TYPE).body(body);
        }
        if let Some((k, v)) = &self.auth {
            req = req.basic_auth(k, Some(v));
        }
        let unavailable = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            SubjectError::Unavailable(format!(
                "schema registry {}: request {kind}: {}",
                self.shown,
                e.without_url()
            ))
        };
        let resp = req.send().await.map_err(unavailable)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(unavailable)?;
        Ok(Reply { status, body })
    }

    /// The body of a 2xx answer, or the error the answer means.
    fn expect_ok<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        reply: &Reply,
    ) -> Result<T, SubjectError> {
        let s = reply.status;
        if s.is_success() {
            return serde_json::from_slice(&reply.body).map_err(|e| {
                SubjectError::Unavailable(format!(
                    "schema registry {}: unexpected answer to {what}: {e}",
                    self.shown
                ))
            });
        }
        let message = reply.message();
        let code = reply
            .error_code()
            .map(|c| format!(", error code {c}"))
            .unwrap_or_default();
        if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS
        {
            Err(SubjectError::Unavailable(format!(
                "schema registry {} answered {s} to {what}: {message}",
                self.shown
            )))
        } else {
            Err(SubjectError::Rejected(format!(
                "{what}: {message} ({s}{code})"
            )))
        }
    }
}

/// `/subjects/{subject}` with the subject escaped as one path segment.
fn path(subject: &str) -> String {
    format!("/subjects/{}", utf8_percent_encode(subject, SEGMENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_escaped_path_segment() {
        assert_eq!(path("orders-value"), "/subjects/orders-value");
        assert_eq!(path("a/b c?%"), "/subjects/a%2Fb%20c%3F%25");
        assert_eq!(path("ü.x_y~"), "/subjects/%C3%BC.x_y~");
    }

    #[test]
    fn credentials_are_checked_and_never_shown() {
        let mut cfg = KafkaClusterConfig::new("b:9092");
        cfg.schema_registry_basic_auth = Some("nocolon".into());
        assert!(matches!(
            RegistryClient::new("http://r", &cfg),
            Err(SubjectError::Invalid(_))
        ));
        cfg.schema_registry_basic_auth = Some("key:hunter2".into());
        let c = RegistryClient::new("https://u:pw@registry.example/sr/", &cfg).unwrap();
        assert_eq!(c.base, "https://u:pw@registry.example/sr");
        assert_eq!(c.shown, "https://registry.example/sr");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("pw"), "{dbg}");
    }

    #[test]
    fn answers_map_to_errors_by_status() {
        let cfg = KafkaClusterConfig::new("b:9092");
        let c = RegistryClient::new("http://r", &cfg).unwrap();
        let reply = |status: u16, body: &str| Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: bytes::Bytes::from(body.to_string()),
        };
        let r = reply(409, r#"{"error_code":409,"message":"incompatible"}"#);
        match c.expect_ok::<IdBody>("register", &r) {
            Err(SubjectError::Rejected(m)) => assert!(m.contains("incompatible"), "{m}"),
            other => panic!("{:?}", other.map(|b| b.id)),
        }
        for status in [500, 503, 408, 429] {
            let r = reply(status, "oops");
            match c.expect_ok::<IdBody>("register", &r) {
                Err(SubjectError::Unavailable(m)) => assert!(m.contains("http://r"), "{m}"),
                other => panic!("{status}: {:?}", other.map(|b| b.id)),
            }
        }
        let r = reply(
            404,
            r#"{"error_code":40401,"message":"Subject 'x' not found."}"#,
        );
        assert!(r.not_found(&[SUBJECT_NOT_FOUND]));
        assert!(!reply(404, "<html>").not_found(&[SUBJECT_NOT_FOUND]));
    }
}
