//! Where one statement runs: its environment, compute pool and region, as data.
//!
//! Owns the shape only. The rule that computes it (compute pool → environment → region) is
//! `pipeline::placement`; this type sits in the resource model so that the proofs of later
//! stages (`authz`, `rewrite::rewrite`) can carry it without importing the pipeline.

/// Where one statement runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placement {
    /// Canonical id of the environment the statement is submitted to.
    pub environment: String,
    /// Its compute pool.
    pub compute_pool: String,
    /// The pool's region: the only region the statement may read or write.
    pub region: String,
}
