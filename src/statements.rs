//! The `sql/v1` statements API: statement objects, their lifecycle, and result paging.
//!
//! Owns the wire shapes ([`wire`]), the store of statements and their phases ([`store`]) and
//! the bounded result buffers ([`results`]). The HTTP handlers live in [`handlers`]; the
//! security decisions are not made here but in [`crate::pipeline`].

pub mod handlers;
pub mod results;
pub mod store;
pub mod wire;
