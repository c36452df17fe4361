//! HTTP front: routing, bounded bodies, JSON responses and the error envelope.
//!
//! Owns turning a hyper request into a call of the right handler and every response back into
//! bytes. No business logic lives here: handlers delegate to [`crate::statements`] and
//! [`crate::pipeline`].

pub mod body;
pub mod dispatch;
pub mod headers;
pub(crate) mod metrics;
pub mod response;
pub mod route;

pub use dispatch::handle;
