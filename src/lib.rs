//! # sqlgate
//!
//! An RBAC-aware SQL gateway that speaks Confluent Cloud's Flink SQL statements API (`sql/v1`).
//!
//! ```text
//!  client ──TLS──▶ server ─▶ http::handle: context::RequestCtx + context::AuditGuard
//!                           1. pipeline::authenticate              → Principal (every authenticated route)
//!                                             │
//!                                             ▼ http::statements (sql/v1 handlers), iam, admin
//!                         pipeline::create_statement
//!                              pipeline::placement                 → Placement (pool, region)
//!                           pipeline::decide (decision workers)
//!                           2. sql::parse                          → ParsedStatement
//!                              authz::Authorizer::check_run        (may the principal run here?)
//!                           3. sql::resolve_for (principal's view) → ResolvedStatement
//!                           4. authz::Authorizer::authorize_explained
//!                                                                  → AuthorizedStatement + Warrant
//!                           5. rewrite::rewrite                    → RewrittenStatement (its Warrant)
//!                              pipeline::admission                 (a task slot of the pool, or PENDING in its queue)
//!                           6. engine::Engine::start               → Execution (rows, cancel handle), or PENDING
//!                              (a read of INFORMATION_SCHEMA: infoschema::answer, in the gateway, never an engine)
//!                              pipeline::starting                  (Flink: the start finished in the background)
//!                              pipeline::listing                   → listings cut to what the caller sees
//!                              audit: the decision (any stage's refusal too), lifecycle
//!                           7. context::AuditGuard::finish         → one request record, whatever the exit
//! ```
//!
//! Deny is the default: a statement that cannot be parsed, resolved or authorized is refused
//! and never reaches the engine; the engine only accepts a [`rewrite::RewrittenStatement`], which
//! only [`rewrite::rewrite`] can build, from an [`authz::AuthorizedStatement`], which only
//! [`authz::Authorizer`] can build. Each proof type lives in a leaf file beside its one
//! constructor (`sql/parse/parsed.rs`, `sql/resolve/resolved.rs`, `authz/proof.rs`,
//! `rewrite/rewritten.rs`), none is `Clone`, and the last two carry the
//! [`authz::Warrant`]: the principal, the [`catalog::Placement`] and the policy version they
//! hold for.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod authz;
pub mod catalog;
pub mod certs;
pub mod cli;
pub mod config;
pub mod context;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod http;
pub mod iam;
pub mod infoschema;
pub mod kafka;
pub mod metrics;
pub mod pipeline;
pub mod rewrite;
pub mod server;
pub(crate) mod session_info;
pub mod sql;
pub mod statements;
#[cfg(test)]
mod testing;
pub mod tls;
pub mod views;
