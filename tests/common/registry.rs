//! An in-suite Schema Registry: plain HTTP/1.1 on a free loopback port, in memory, speaking
//! the subset of the Confluent Schema Registry REST API the gateway uses:
//!
//! - `GET /subjects` (live subjects)
//! - `GET /subjects/{s}/versions/latest`
//! - `POST /subjects/{s}/versions` (register: an identical schema returns its existing id;
//!   ids are registry-wide, the same text and type share one id)
//! - `POST /subjects/{s}` (look up the version holding a schema)
//! - `DELETE /subjects/{s}` (soft) and `DELETE /subjects/{s}?permanent=true` (hard, only after
//!   a soft delete)
//!
//! with the registry's error bodies (`{"error_code": 40401, "message": "Subject 'x' not
//! found."}`, …). No real registry can be installed on the test machines; this one exists so
//! the REST client is exercised over real HTTP. It can simulate an outage (`set_down`: 503 to
//! everything) and require HTTP Basic credentials (`require_auth`). Stopped when dropped.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A running registry; stopped (with its open connections) when dropped.
pub struct Registry {
    /// `http://127.0.0.1:PORT`, for `schema_registry_url`.
    pub url: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    requests: AtomicUsize,
    down: AtomicBool,
    /// Expected `Authorization` header value, if credentials are required.
    auth: Mutex<Option<String>>,
    store: Mutex<Store>,
}

#[derive(Default)]
struct Store {
    /// Last id handed out.
    last_id: u32,
    /// Registry-wide ids by (schemaType, schema text).
    ids: BTreeMap<(String, String), u32>,
    subjects: BTreeMap<String, Vec<Version>>,
}

#[derive(Clone)]
struct Version {
    version: i32,
    id: u32,
    schema_type: String,
    schema: String,
    deleted: bool,
}

/// Starts a registry on a free loopback port.
pub async fn start() -> Registry {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    let state = Arc::new(State::default());
    let task = tokio::spawn(serve(listener, state.clone()));
    Registry {
        url: format!("http://{addr}"),
        state,
        task,
    }
}

impl Registry {
    /// Live (not deleted) subjects, sorted.
    pub fn subjects(&self) -> Vec<String> {
        let store = self.state.store.lock().unwrap();
        store
            .subjects
            .iter()
            .filter(|(_, vs)| vs.iter().any(|v| !v.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Requests received so far (answered or refused).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// While `true`, every request is answered 503 (an outage).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Requires HTTP Basic `key:secret` on every request from now on (`None`: no more).
    pub fn require_auth(&self, credentials: Option<&str>) {
        *self.state.auth.lock().unwrap() = credentials.map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        });
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        conns.spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections so the set does not grow without bound.
        while conns.try_join_next().is_some() {}
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", MEDIA_TYPE)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn error(status: StatusCode, code: i64, message: String) -> Response<Full<Bytes>> {
    reply(status, json!({"error_code": code, "message": message}))
}

fn subject_not_found(s: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        40401,
        format!("Subject '{s}' not found."),
    )
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            50003,
            "The registry is down for the test.".into(),
        );
    }
    let expected = state.auth.lock().unwrap().clone();
    if let Some(expected) = expected {
        let given = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return error(StatusCode::UNAUTHORIZED, 401, "Unauthorized".into());
        }
    }
    let method = req.method().clone();
    let permanent = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "permanent=true"));
    let segments: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error(StatusCode::BAD_REQUEST, 400, format!("bad body: {e}")),
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut store = state.store.lock().unwrap();
    match (&method, segs.as_slice()) {
        (&Method::GET, ["subjects"]) => {
            let live: Vec<&String> = store
                .subjects
                .iter()
                .filter(|(_, vs)| vs.iter().any(|v| !v.deleted))
                .map(|(s, _)| s)
                .collect();
            reply(StatusCode::OK, json!(live))
        }
        (&Method::GET, ["subjects", s, "versions", "latest"]) => {
            match live(&store, s).and_then(|vs| vs.last().cloned()) {
                Some(v) => reply(StatusCode::OK, version_body(s, &v)),
                None => subject_not_found(s),
            }
        }
        (&Method::POST, ["subjects", s, "versions"]) => match parse_schema(&body) {
            Ok((ty, schema)) => {
                let id = store.register(s, ty, schema);
                reply(StatusCode::OK, json!({"id": id}))
            }
            Err(e) => e,
        },
        (&Method::POST, ["subjects", s]) => {
            let (ty, schema) = match parse_schema(&body) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let Some(vs) = live(&store, s) else {
                return subject_not_found(s);
            };
            match vs
                .iter()
                .find(|v| v.schema_type == ty && v.schema == schema)
            {
                Some(v) => reply(StatusCode::OK, version_body(s, v)),
                None => error(StatusCode::NOT_FOUND, 40403, "Schema not found".into()),
            }
        }
        (&Method::DELETE, ["subjects", s]) => store.delete(s, permanent),
        _ => error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found".into()),
    }
}

/// The live versions of `s`, if it has any.
fn live(store: &Store, s: &str) -> Option<Vec<Version>> {
    let vs: Vec<Version> = store
        .subjects
        .get(s)?
        .iter()
        .filter(|v| !v.deleted)
        .cloned()
        .collect();
    (!vs.is_empty()).then_some(vs)
}

fn version_body(s: &str, v: &Version) -> Value {
    let mut body = json!({"subject": s, "version": v.version, "id": v.id, "schema": v.schema});
    if v.schema_type != "AVRO" {
        body["schemaType"] = json!(v.schema_type);
    }
    body
}

/// `(schemaType, schema)` of a register or lookup body, or the registry's 422.
#[allow(clippy::result_large_err)]
fn parse_schema(body: &[u8]) -> Result<(String, String), Response<Full<Bytes>>> {
    let invalid = |m: &str| {
        Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("Invalid schema: {m}"),
        ))
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return invalid("the request body is not JSON");
    };
    let Some(schema) = v.get("schema").and_then(Value::as_str) else {
        return invalid("no schema");
    };
    let ty = v
        .get("schemaType")
        .and_then(Value::as_str)
        .unwrap_or("AVRO")
        .to_string();
    if !["AVRO", "JSON", "PROTOBUF"].contains(&ty.as_str()) {
        return invalid(&format!("unknown schemaType {ty}"));
    }
    if ty != "PROTOBUF" && serde_json::from_str::<Value>(schema).is_err() {
        return invalid("the schema is not JSON");
    }
    Ok((ty, schema.to_string()))
}

impl Store {
    /// Registers and returns the id (the existing one for a schema the subject holds).
    fn register(&mut self, s: &str, ty: String, schema: String) -> u32 {
        if let Some(v) = live(self, s)
            .unwrap_or_default()
            .iter()
            .find(|v| v.schema_type == ty && v.schema == schema)
        {
            return v.id;
        }
        let key = (ty.clone(), schema.clone());
        let id = match self.ids.get(&key) {
            Some(id) => *id,
            None => {
                self.last_id += 1;
                self.ids.insert(key, self.last_id);
                self.last_id
            }
        };
        let versions = self.subjects.entry(s.to_string()).or_default();
        let version = versions.last().map_or(1, |v| v.version + 1);
        versions.push(Version {
            version,
            id,
            schema_type: ty,
            schema,
            deleted: false,
        });
        id
    }

    fn delete(&mut self, s: &str, permanent: bool) -> Response<Full<Bytes>> {
        let Some(versions) = self.subjects.get_mut(s) else {
            return subject_not_found(s);
        };
        let all_deleted = versions.iter().all(|v| v.deleted);
        let numbers: Vec<i32> = versions.iter().map(|v| v.version).collect();
        match (permanent, all_deleted) {
            (false, true) => error(
                StatusCode::NOT_FOUND,
                40404,
                format!("Subject '{s}' was soft deleted.Set permanent=true to delete permanently"),
            ),
            (false, false) => {
                for v in versions.iter_mut() {
                    v.deleted = true;
                }
                reply(StatusCode::OK, json!(numbers))
            }
            (true, false) => error(
                StatusCode::NOT_FOUND,
                40405,
                format!("Subject '{s}' was not deleted first before being permanently deleted"),
            ),
            (true, true) => {
                self.subjects.remove(s);
                reply(StatusCode::OK, json!(numbers))
            }
        }
    }
}
