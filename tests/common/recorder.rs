//! A recording HTTP/1.1 pass-through in front of a real service (Flink's SQL Gateway): every
//! request is forwarded unchanged and answered with the service's answer; the POST bodies are
//! kept, so a test can replay exactly what sqlgate sent (its session properties, the
//! declarations of a statement's tables, the rendered statement).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A running pass-through.
pub struct Recorder {
    /// `http://127.0.0.1:PORT`, to use instead of the service's URL.
    pub url: String,
    posts: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a pass-through to `upstream` (`http://host:port`) on an ephemeral loopback port.
pub async fn start(upstream: &str) -> Recorder {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let posts: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let (seen, upstream) = (posts.clone(), upstream.to_string());
    let client = reqwest::Client::new();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (seen, upstream, client) = (seen.clone(), upstream.clone(), client.clone());
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (seen, upstream, client) = (seen.clone(), upstream.clone(), client.clone());
                async move { Ok::<_, Infallible>(forward(req, &upstream, &client, &seen).await) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Recorder { url, posts, task }
}

async fn forward(
    req: Request<Incoming>,
    upstream: &str,
    client: &reqwest::Client,
    seen: &Mutex<Vec<(String, Value)>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if parts.method == hyper::Method::POST {
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        seen.lock().unwrap().push((parts.uri.path().to_string(), v));
    }
    let mut rb = client.request(parts.method.clone(), format!("{upstream}{path}"));
    if let Some(ct) = parts.headers.get(hyper::header::CONTENT_TYPE) {
        rb = rb.header(hyper::header::CONTENT_TYPE, ct.clone());
    }
    let (status, bytes) = match rb.body(body).send().await {
        Ok(r) => (r.status(), r.bytes().await.unwrap_or_default()),
        Err(e) => (hyper::StatusCode::BAD_GATEWAY, Bytes::from(e.to_string())),
    };
    let mut resp = Response::new(Full::new(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

impl Recorder {
    /// `(path, JSON body)` of every POST so far, in order.
    pub fn posts(&self) -> Vec<(String, Value)> {
        self.posts.lock().unwrap().clone()
    }
}
