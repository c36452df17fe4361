//! Which catalogs and databases a caller may know of. Name resolution consults it, so a
//! catalog or database the caller has no role on (at, above or below it) does not resolve, and
//! is reported exactly like one that does not exist: the same error, from the same code path.

use super::ObjectRef;

/// Answers whether a caller knows an object exists.
pub trait Visibility {
    /// Whether `object` (a catalog or a database) is one the caller may know of.
    fn knows(&self, object: &ObjectRef) -> bool;
}

/// Everything is visible: for tools and tests that resolve without a caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Everything;

impl Visibility for Everything {
    fn knows(&self, _: &ObjectRef) -> bool {
        true
    }
}
