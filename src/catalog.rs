//! The resource model: organization → environments (catalogs) → clusters (databases) → tables.
//!
//! Owns name lookup (by id or display name), canonical ids, regions and CRNs of every object a
//! statement can name. It does not know who may see what (that is `authz`) nor what rows a
//! table holds (that is `engine`).

mod crn;
mod model;
mod placement;
mod visibility;

pub use crn::{Crn, CrnError, CrnPattern};
pub use model::{
    Catalogs, ClusterConfig, ClusterInfo, EXAMPLES_CATALOG, EXAMPLES_DATABASE, EnvironmentConfig,
    EnvironmentInfo, ObjectRef, TableRef,
};
pub use placement::Placement;
pub use visibility::{Everything, Visibility};
