//! Per-request context: who asked, and how the request ended. Created by
//! [`crate::http::handle`] when a request arrives, passed to every stage, and read once when
//! the request ends by its audit hook ([`AuditGuard`]), which writes the request's one
//! request-level audit record whatever the exit (success, a refusal at any stage, a server
//! error, the client going away). Logs of one request share its id.
//!
//! Owns the facts a request collects on its way (peer, TLS client certificate, the principal
//! once authenticated, a failed authentication, the stage that refused and why, what a change
//! put in force), not the record: [`AuditGuard`] builds and writes it, [`crate::audit`] owns its
//! shape. Stages only note facts here; none of them writes the request's record.

mod guard;
mod peer;

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::audit::AuthnFailure;
use crate::auth::Principal;

pub use guard::AuditGuard;
pub use peer::client_cert_subject;

/// What every stage may know about the request it serves.
#[derive(Debug)]
pub struct RequestCtx {
    /// Unique id, returned to the client in `x-request-id` and in error bodies.
    pub request_id: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// The subject of the client's TLS certificate, when the connection used mTLS.
    pub client_cert: Option<String>,
    /// When the request arrived (the request record's duration starts here).
    pub started: Instant,
    /// What the stages noted so far; read by the audit hook at the end.
    notes: Mutex<Notes>,
}

/// The facts stages note on the way, for the request's audit record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes {
    /// Who, once authentication succeeded.
    pub(crate) principal: Option<Principal>,
    /// A failed authentication: its record is the request's record.
    pub(crate) authn_failure: Option<AuthnFailure>,
    /// The stage that refused (`parse`, `resolve`, …), when a stage says so itself.
    pub(crate) stage: Option<&'static str>,
    /// The outcome's message as the audit may carry it, in place of the error's own text
    /// (which may quote SQL literals).
    pub(crate) message: Option<String>,
    /// The resource the request turned out to be about (a role binding's pattern).
    pub(crate) resource: Option<String>,
    /// The success code of a change (`iam.created`).
    pub(crate) code: Option<String>,
    /// The policy version a change put in force.
    pub(crate) policy_version: Option<u64>,
}

impl RequestCtx {
    /// A context for a request that just arrived from `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        Self::with_client_cert(peer, None)
    }

    /// A context for a request from `peer` on a connection whose client certificate has this
    /// subject.
    pub fn with_client_cert(peer: SocketAddr, client_cert: Option<String>) -> Self {
        Self {
            request_id: uuid::Uuid::new_v4().to_string(),
            peer,
            client_cert,
            started: Instant::now(),
            notes: Mutex::new(Notes::default()),
        }
    }

    fn notes(&self) -> MutexGuard<'_, Notes> {
        // A panic while noting cannot leave the notes half-written in a harmful way.
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stage 1 succeeded: the request is `principal`'s.
    pub(crate) fn authenticated(&self, principal: &Principal) {
        self.notes().principal = Some(principal.clone());
    }

    /// Stage 1 refused the credentials; `failure` becomes the request's audit record.
    pub(crate) fn authentication_failed(&self, failure: AuthnFailure) {
        self.notes().authn_failure = Some(failure);
    }

    /// A stage refused the request; `message` is what the audit may say about why (never
    /// SQL literals).
    pub(crate) fn refused_at(&self, stage: &'static str, message: String) {
        let mut n = self.notes();
        n.stage = Some(stage);
        n.message = Some(message);
    }

    /// A change (or its refusal) the request made: its resource, code, message and the policy
    /// version it put in force.
    pub(crate) fn changed(
        &self,
        resource: String,
        code: Option<&str>,
        message: String,
        policy_version: Option<u64>,
    ) {
        let mut n = self.notes();
        n.resource = Some(resource);
        n.code = code.map(str::to_string);
        n.message = Some(message);
        n.policy_version = policy_version;
    }

    /// The authenticated principal's id, if stage 1 succeeded.
    pub fn principal_id(&self) -> Option<String> {
        self.notes().principal.as_ref().map(|p| p.id.clone())
    }

    /// A copy of the notes so far.
    pub(crate) fn snapshot(&self) -> Notes {
        self.notes().clone()
    }
}
