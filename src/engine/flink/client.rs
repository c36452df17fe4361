//! The REST calls sqlgate makes to a Flink SQL Gateway (v2 paths) and to the JobManager
//! behind it, each bounded by the engine's `request_timeout`, and the reduction of Flink's
//! error bodies (Java stack traces) to their root cause.
//!
//! Owns wire shapes only; what a statement does with them is `run`'s.

use std::time::Duration;

use serde_json::{Value, json};

use super::json::{self, Json};

/// Why a call failed.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// No answer (refused, reset, timed out): the engine is unavailable.
    Unreachable(String),
    /// An answer with an error status; `root` is the root cause of Flink's message.
    Failed {
        /// HTTP status.
        status: u16,
        /// The last `Caused by:` of the error text, without its exception class.
        root: String,
    },
    /// An answer sqlgate cannot read.
    Bad(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(m) => write!(f, "no answer: {m}"),
            CallError::Failed { status, root } => write!(f, "HTTP {status}: {root}"),
            CallError::Bad(m) => write!(f, "unreadable answer: {m}"),
        }
    }
}

/// One page of a statement's result.
#[derive(Debug)]
pub(crate) struct Page {
    /// `NOT_READY`, `PAYLOAD` or `EOS`.
    pub(crate) result_type: String,
    /// Where the next page is (`None` after EOS).
    pub(crate) next: Option<String>,
    /// Whether this is a query's result (false for DDL and DML).
    pub(crate) is_query: bool,
    /// The job the statement submitted, if any.
    pub(crate) job_id: Option<String>,
    /// `results.columns[*]`.
    pub(crate) columns: Vec<(String, Json)>,
    /// `results.data[*]` (`{"kind", "fields"}`).
    pub(crate) data: Vec<Json>,
}

/// A SQL Gateway and its JobManager.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    gateway: String,
    jobmanager: String,
}

impl Client {
    /// A client of the gateway at `gateway` and the JobManager at `jobmanager`.
    pub(crate) fn new(gateway: &str, jobmanager: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            gateway: gateway.trim_end_matches('/').to_string(),
            jobmanager: jobmanager.trim_end_matches('/').to_string(),
        })
    }

    /// The SQL Gateway's base URL (for messages).
    pub(crate) fn gateway_url(&self) -> &str {
        &self.gateway
    }

    async fn call(&self, rb: reqwest::RequestBuilder) -> Result<Json, CallError> {
        let resp = rb
            .send()
            .await
            .map_err(|e| CallError::Unreachable(without_url(&e)))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| CallError::Unreachable(without_url(&e)))?;
        if !status.is_success() {
            return Err(CallError::Failed {
                status: status.as_u16(),
                root: root_cause(&body),
            });
        }
        if body.trim().is_empty() {
            return Ok(Json::Object(Vec::new()));
        }
        json::parse(&body).map_err(CallError::Bad)
    }

    fn gw(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// Opens a session with `properties`; its handle.
    pub(crate) async fn open_session(
        &self,
        name: &str,
        properties: &[(&str, String)],
    ) -> Result<String, CallError> {
        let props: serde_json::Map<String, Value> = properties
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
            .collect();
        let body = json!({"sessionName": name, "properties": props});
        let v = self
            .call(self.http.post(self.gw("/v2/sessions")).json(&body))
            .await?;
        v.get("sessionHandle")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| CallError::Bad("no sessionHandle".into()))
    }

    /// Runs a session statement (CREATE CATALOG / TABLE, USE, DROP CATALOG) to completion.
    pub(crate) async fn configure(&self, session: &str, statement: &str) -> Result<(), CallError> {
        let url = self.gw(&format!("/v2/sessions/{session}/configure-session"));
        self.call(self.http.post(url).json(&json!({"statement": statement})))
            .await
            .map(|_| ())
    }

    /// Submits a statement; its operation handle.
    pub(crate) async fn submit(
        &self,
        session: &str,
        statement: &str,
        execution: &[(&str, String)],
    ) -> Result<String, CallError> {
        let cfg: serde_json::Map<String, Value> = execution
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
            .collect();
        let url = self.gw(&format!("/v2/sessions/{session}/statements"));
        let v = self
            .call(
                self.http
                    .post(url)
                    .json(&json!({"statement": statement, "executionConfig": cfg})),
            )
            .await?;
        v.get("operationHandle")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| CallError::Bad("no operationHandle".into()))
    }

    /// The operation's status (`PENDING`, `RUNNING`, `FINISHED`, `ERROR`, `CANCELED`, …).
    pub(crate) async fn status(&self, session: &str, op: &str) -> Result<String, CallError> {
        let url = self.gw(&format!("/v2/sessions/{session}/operations/{op}/status"));
        let v = self.call(self.http.get(url)).await?;
        v.get("status")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| CallError::Bad("no status".into()))
    }

    /// The first page of an operation's result.
    pub(crate) fn first_page(session: &str, op: &str) -> String {
        format!("/v2/sessions/{session}/operations/{op}/result/0?rowFormat=JSON")
    }

    /// Fetches the page at `uri` (a path the gateway gave, `/v2/sessions/…`).
    pub(crate) async fn fetch(&self, uri: &str) -> Result<Page, CallError> {
        if !uri.starts_with("/v") {
            return Err(CallError::Bad(format!("unexpected result URI {uri}")));
        }
        let v = self.call(self.http.get(self.gw(uri))).await?;
        let results = v.get("results");
        let columns = results
            .and_then(|r| r.get("columns"))
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .map(|c| {
                let name = c
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string();
                (name, c.get("logicalType").cloned().unwrap_or(Json::Null))
            })
            .collect();
        let data = results
            .and_then(|r| r.get("data"))
            .and_then(Json::as_array)
            .map(<[Json]>::to_vec)
            .unwrap_or_default();
        Ok(Page {
            result_type: v
                .get("resultType")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            next: v
                .get("nextResultUri")
                .and_then(Json::as_str)
                .map(str::to_string),
            is_query: matches!(v.get("isQueryResult"), Some(Json::Bool(true))),
            job_id: v.get("jobID").and_then(Json::as_str).map(str::to_string),
            columns,
            data,
        })
    }

    /// Closes an operation (for a running query this cancels its job).
    pub(crate) async fn close_operation(&self, session: &str, op: &str) -> Result<(), CallError> {
        let url = self.gw(&format!("/v2/sessions/{session}/operations/{op}/close"));
        self.call(self.http.delete(url)).await.map(|_| ())
    }

    /// Closes a session (cancelling its queries' jobs; INSERT jobs live on).
    pub(crate) async fn close_session(&self, session: &str) -> Result<(), CallError> {
        let url = self.gw(&format!("/v2/sessions/{session}"));
        self.call(self.http.delete(url)).await.map(|_| ())
    }

    /// Keeps a session alive past the gateway's idle timeout.
    pub(crate) async fn heartbeat(&self, session: &str) -> Result<(), CallError> {
        let url = self.gw(&format!("/v2/sessions/{session}/heartbeat"));
        self.call(self.http.post(url).json(&json!({})))
            .await
            .map(|_| ())
    }

    /// Asks the JobManager to cancel a job (asynchronous: watch [`Self::job_state`]).
    pub(crate) async fn cancel_job(&self, job: &str) -> Result<(), CallError> {
        let url = format!("{}/jobs/{job}?mode=cancel", self.jobmanager);
        self.call(self.http.patch(url)).await.map(|_| ())
    }

    /// A job's state (`RUNNING`, `FINISHED`, `FAILED`, `CANCELED`, …).
    pub(crate) async fn job_state(&self, job: &str) -> Result<String, CallError> {
        let url = format!("{}/jobs/{job}", self.jobmanager);
        let v = self.call(self.http.get(url)).await?;
        v.get("state")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| CallError::Bad("no job state".into()))
    }

    /// The root cause of a failed job, from the JobManager's exception history.
    pub(crate) async fn job_failure(&self, job: &str) -> Option<String> {
        let url = format!("{}/jobs/{job}/exceptions", self.jobmanager);
        let v = self.call(self.http.get(url)).await.ok()?;
        let text = v.get("root-exception").and_then(Json::as_str)?;
        Some(reduce(text))
    }
}

/// reqwest's message without the URL (it names the engine's address, which is no secret,
/// but makes messages long).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// The root cause of a Flink error body (`{"errors": ["Internal server error.", "<stack>"]}`
/// or `{"errors": ["<stack>"]}`): the last `Caused by:` line, without the exception class.
pub(crate) fn root_cause(body: &str) -> String {
    let text = match json::parse(body) {
        Ok(v) => v
            .get("errors")
            .and_then(Json::as_array)
            .map(|e| {
                e.iter()
                    .filter_map(Json::as_str)
                    .filter(|s| *s != "Internal server error.")
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|| body.to_string()),
        Err(_) => body.to_string(),
    };
    reduce(&text)
}

/// The last `Caused by:` line of a Java stack trace text (else its first line), without the
/// exception class; at most 1000 characters.
pub(crate) fn reduce(text: &str) -> String {
    let line = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Caused by: "))
        .next_back()
        .or_else(|| {
            text.lines()
                .map(|l| {
                    l.trim()
                        .trim_start_matches("<Exception on server side:")
                        .trim()
                })
                .find(|l| !l.is_empty())
        })
        .unwrap_or("the Flink SQL Gateway gave no reason");
    let message = strip_class(line);
    message.chars().take(1000).collect()
}

/// `org.x.FooException: message` → `message`.
fn strip_class(line: &str) -> &str {
    if let Some((class, rest)) = line.split_once(": ")
        && class.contains('.')
        && !class.contains(' ')
        && (class.ends_with("Exception") || class.ends_with("Error"))
    {
        return strip_class(rest.trim());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_cause_is_the_last_caused_by_without_its_class() {
        let body = r#"{"errors":["Internal server error.","<Exception on server side:\norg.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n\tat org.apache.flink...\nCaused by: org.apache.flink.table.api.ValidationException: SQL validation failed. From line 1, column 15 to line 1, column 18: Object 'nope' not found\n\tat x\nCaused by: org.apache.calcite.sql.validate.SqlValidatorException: Object 'nope' not found\n\tat y\n\nEnd of exception on server side>"]}"#;
        assert_eq!(root_cause(body), "Object 'nope' not found");
        assert_eq!(
            root_cause(r#"{"errors":["Not found: /v2/nope"]}"#),
            "Not found: /v2/nope"
        );
        assert_eq!(
            reduce("java.lang.ArithmeticException: / by zero"),
            "/ by zero"
        );
        assert_eq!(root_cause("not json"), "not json");
    }
}
