//! HTTP front: routing, bounded bodies, JSON responses and the error envelope.
//!
//! Owns turning a hyper request into a call of the right handler and every response back into
//! bytes. No business logic lives here: the statements handlers ([`statements`]) delegate to
//! [`crate::pipeline`] and [`crate::statements`].

pub(crate) mod audit;
pub mod body;
pub mod dispatch;
pub mod headers;
pub(crate) mod metrics;
pub mod response;
pub mod route;
pub mod statements;

pub use dispatch::handle;
