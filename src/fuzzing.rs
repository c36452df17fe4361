//! Fuzz targets as plain functions over bytes, shared by the `cargo fuzz` crate in `fuzz/` and
//! by the regular test suite (`tests/fuzz_smoke.rs`, which runs them over the seed corpus, the
//! checked-in crash regressions and a bounded deterministic mutation loop).
//!
//! Each function takes any `&[u8]` and must never panic: that is the property being fuzzed.
//! The only panics are explicit assertions of real invariants, each saying what broke:
//! * [`sql_pipeline`]: the SQL text through the request path's stages (parse → resolve →
//!   authorize → rewrite → render) for principals with and without roles; every refusal is a
//!   4xx with a stable code and a detail a person can read; an authorized statement is never
//!   refused by `rewrite`; the rendered canonical SQL parses again, resolves to the same
//!   accesses and the same kind, and renders to itself.
//! * [`create_statement_request`]: a `POST …/statements` body through `decode_json`, the
//!   request checks of [`crate::pipeline::create_statement`] and `stringify_properties`; a `PATCH` body
//!   the same way.
//! * [`auth_headers`]: request headers through the credential extraction and the unverified
//!   reading of a bearer token's JOSE header and claims (the duplicate-refusing JSON parser);
//!   the same bytes also as a token's header and payload.
//! * [`audit_reader`]: file bytes as an audit log (one or more files) and a checkpoint file,
//!   through `verify`, `verify_with` (signed checkpoints), `query` and `render`.
//!
//! The fixture (catalogs, the repository's `policies/`, checkpoint keys, a scratch directory)
//! is built once per process. The module decides nothing and serves no request; it is
//! `#[doc(hidden)]` because it is a test harness, not API.

mod audit;
mod auth;
mod request;
pub mod seeds;
mod sql;

use std::sync::OnceLock;

pub use audit::{AUDIT_FILE_SEPARATOR, CHECKPOINTS_SEPARATOR, audit_reader};
pub use auth::auth_headers;
pub use request::create_statement_request;
pub use sql::sql_pipeline;

use crate::error::ApiError;

/// A fuzz target: any bytes in, a panic only when an invariant breaks.
pub type Target = fn(&[u8]);

/// The fuzz targets by name (the names of the `cargo fuzz` targets and of the corpus and
/// regression directories), with their functions.
pub const TARGETS: &[(&str, Target)] = &[
    ("sql_pipeline", sql_pipeline),
    ("create_statement_request", create_statement_request),
    ("auth_headers", auth_headers),
    ("audit_reader", audit_reader),
];

/// Runs `f` on a thread with the stack of the gateway's decision workers
/// ([`crate::pipeline::PipelineConfig::worker_stack_bytes`], 64 MiB by default), where the
/// SQL stages run in the gateway, and returns its result; a panic in `f` is resumed here.
pub fn on_decision_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    on_stack(
        crate::pipeline::PipelineConfig::default().worker_stack_bytes,
        f,
    )
}

/// Runs `f` on a new thread with a stack of `bytes` and returns its result; a panic in `f`
/// is resumed on the calling thread.
pub fn on_stack<T: Send>(bytes: usize, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("sqlgate-fuzz".into())
            .stack_size(bytes)
            .spawn_scoped(s, f)
            .expect("spawn a fuzzing thread");
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A refusal is a client error a person can act on: a 4xx, a stable dotted code, a detail
/// that is not empty, and an error envelope that renders.
fn assert_clean_refusal(e: ApiError, input: &dyn std::fmt::Debug) {
    let status = e.status();
    let code = e.code().as_str();
    let detail = e.detail();
    assert!(
        status.is_client_error(),
        "refusal with status {status} ({code}: {detail}) for {input:?}"
    );
    assert!(
        code.contains('.')
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._".contains(&b)),
        "refusal code `{code}` is not a stable dotted code, for {input:?}"
    );
    assert!(
        !detail.trim().is_empty(),
        "refusal {code} has no detail, for {input:?}"
    );
    let response = e.into_response("fuzz");
    assert_eq!(response.status(), status);
}

/// A tokio runtime for the fixtures' async constructors (built once, on first use).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the fuzzing fixtures")
    })
}
