//! The `sql/v1` statements API: statement objects, their lifecycle, and result paging.
//!
//! A statement is two things kept apart:
//!
//! ```text
//!   StatementRecord (record.rs)          durable, serializable: name, uid, owner, spec,
//!        │                               labels, phase, detail, traits, stopped, version
//!        ▼
//!   trait StatementStore (store.rs)      insert_if_absent (name + per-principal cap, atomic),
//!        ├─ MemoryStore (memory.rs)      get, list, update_state (expected version),
//!        └─ FileStore   (file.rs)        remove, count_owned, expire
//!                                        data/statements/<uid>.json, fsync + rename
//!
//!   Running (running.rs)                 process-local: result rows, cancel token, phase
//!        └─ RunningRegistry              watch; by uid, in the gateway that runs it
//!
//!   Statements (lifecycle.rs)            reserve → transition … → stop / remove / expire;
//!        └─ PhaseTally (tally.rs)        startup recovery of statements a restart ended;
//!                                        statements per pool and phase, for the metrics
//!
//!   PoolSlots (pool_slots.rs)            each compute pool's task slots and its FIFO queue
//!                                        of PENDING statements waiting for one
//! ```
//!
//! The wire shapes are in [`wire`], the bounded result buffers in [`results`], the HTTP
//! handlers in [`handlers`]. The security decisions are not made here but in
//! [`crate::pipeline`].

pub mod file;
pub mod lifecycle;
pub mod memory;
pub mod pool_slots;
pub mod record;
pub mod results;
pub mod running;
pub mod store;
pub mod tally;
pub mod wire;

#[cfg(test)]
mod tests;

pub use lifecycle::{Clock, Limits, ManualClock, Statements, StoreKind, SystemClock};
pub use record::{Phase, Spec, StatementId, StatementRecord, StatementState};
pub use store::{ListFilter, StatementStore, StoreError};
