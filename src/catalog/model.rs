//! Environments, clusters and table references, with lookup by id or display name.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::crn::Crn;

/// Id (and display name) of the built-in, read-only catalog of generated sample data.
pub const EXAMPLES_CATALOG: &str = "examples";
/// The one database of the `examples` catalog.
pub const EXAMPLES_DATABASE: &str = "marketplace";

/// One configured environment (a catalog), as written in the config file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Canonical id, e.g. `env-dev`. Used in URLs, CRNs and rewritten SQL.
    pub id: String,
    /// Human name, e.g. `dev`; SQL may name the catalog by either.
    pub display_name: String,
    /// The Kafka clusters (databases) of this environment.
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
}

/// One configured Kafka cluster (a database).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Canonical id, e.g. `lkc-dev`.
    pub id: String,
    /// Human name, e.g. `main`.
    pub display_name: String,
    /// Cloud region the cluster's data lives in, e.g. `aws.us-east-2`. A statement may only
    /// touch tables of its own region.
    pub region: String,
    /// The Kafka cluster behind this database: its topics are its tables. Without it the
    /// database's tables are stored by the embedded engine itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<crate::kafka::KafkaClusterConfig>,
}

/// Runtime view of an environment.
pub type EnvironmentInfo = EnvironmentConfig;
/// Runtime view of a cluster.
pub type ClusterInfo = ClusterConfig;

/// The whole resource model the gateway serves: one organization, its environments, and the
/// built-in `examples` catalog.
#[derive(Debug, Clone)]
pub struct Catalogs {
    organization_id: String,
    region: String,
    environments: Vec<EnvironmentInfo>,
    /// The views the gateway keeps in these catalogs (shared by every clone).
    views: std::sync::Arc<crate::views::ViewStore>,
}

impl Catalogs {
    /// The views of these catalogs (see [`crate::views`]).
    pub fn views(&self) -> &crate::views::ViewStore {
        &self.views
    }

    /// Builds the model. `region` is the gateway's default region (where statements without a
    /// compute pool run, and where the `examples` catalog is served).
    pub fn new(organization_id: &str, region: &str, environments: Vec<EnvironmentInfo>) -> Self {
        Self {
            organization_id: organization_id.to_string(),
            region: region.to_string(),
            environments,
            views: Default::default(),
        }
    }

    /// The organization id, e.g. `org-dev`.
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// The gateway's default region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// All configured environments (not including `examples`).
    pub fn environments(&self) -> &[EnvironmentInfo] {
        &self.environments
    }

    /// Finds a configured environment by canonical id or display name (exact, case-sensitive).
    /// Ids win over display names when both could match.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentInfo> {
        self.environments
            .iter()
            .find(|e| e.id == name)
            .or_else(|| self.environments.iter().find(|e| e.display_name == name))
    }

    /// Resolves a catalog name (id or display name, or `examples`) to its canonical id.
    pub fn catalog_id(&self, name: &str) -> Option<String> {
        if name == EXAMPLES_CATALOG {
            return Some(EXAMPLES_CATALOG.to_string());
        }
        self.environment(name).map(|e| e.id.clone())
    }

    /// Resolves a database name inside a catalog (given by canonical id) to its canonical id.
    pub fn database_id(&self, catalog_id: &str, name: &str) -> Option<String> {
        if catalog_id == EXAMPLES_CATALOG {
            return (name == EXAMPLES_DATABASE).then(|| EXAMPLES_DATABASE.to_string());
        }
        let env = self.environments.iter().find(|e| e.id == catalog_id)?;
        env.clusters
            .iter()
            .find(|c| c.id == name)
            .or_else(|| env.clusters.iter().find(|c| c.display_name == name))
            .map(|c| c.id.clone())
    }

    /// The cluster behind a (canonical) catalog and database id.
    pub fn cluster(&self, catalog_id: &str, database_id: &str) -> Option<&ClusterInfo> {
        self.environments
            .iter()
            .find(|e| e.id == catalog_id)?
            .clusters
            .iter()
            .find(|c| c.id == database_id)
    }

    /// Region of a (canonical) database. `examples` lives in every region (it is generated
    /// locally by whichever region runs the statement), so it reports `None`.
    pub fn region_of(&self, catalog_id: &str, database_id: &str) -> Option<&str> {
        self.cluster(catalog_id, database_id)
            .map(|c| c.region.as_str())
    }

    /// Whether a catalog is the built-in read-only one.
    pub fn is_examples(catalog_id: &str) -> bool {
        catalog_id == EXAMPLES_CATALOG
    }

    /// The CRN of an object.
    pub fn crn(&self, object: &ObjectRef) -> Crn {
        let org = Crn::organization(&self.organization_id);
        match object {
            ObjectRef::Organization => org,
            ObjectRef::Catalog(c) => org.environment(c),
            ObjectRef::Database(c, d) => org.environment(c).cluster(d),
            ObjectRef::Table(t) => org
                .environment(&t.catalog)
                .cluster(&t.database)
                .topic(&t.table),
        }
    }
}

/// A fully qualified, canonical table name: catalog id, database id, table name (verbatim,
/// case-sensitive, as Flink treats identifiers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    /// Canonical catalog (environment) id.
    pub catalog: String,
    /// Canonical database (cluster) id.
    pub database: String,
    /// Table (topic) name.
    pub table: String,
}

impl TableRef {
    /// Builds a reference from its three canonical parts.
    pub fn new(catalog: &str, database: &str, table: &str) -> Self {
        Self {
            catalog: catalog.to_string(),
            database: database.to_string(),
            table: table.to_string(),
        }
    }
}

/// Renders as backtick-quoted Flink SQL: `` `env-dev`.`lkc-dev`.`orders` ``.
impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            quote(&self.catalog),
            quote(&self.database),
            quote(&self.table)
        )
    }
}

/// Backtick-quotes an identifier the way Flink does (a backtick inside is doubled).
pub(crate) fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Any object an access can be checked against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectRef {
    /// The organization itself (e.g. SHOW CATALOGS).
    Organization,
    /// A catalog (environment), by canonical id.
    Catalog(String),
    /// A database (cluster): canonical catalog id and database id.
    Database(String, String),
    /// A table (topic).
    Table(TableRef),
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Organization => write!(f, "organization"),
            ObjectRef::Catalog(c) => write!(f, "catalog {}", quote(c)),
            ObjectRef::Database(c, d) => write!(f, "database {}.{}", quote(c), quote(d)),
            ObjectRef::Table(t) => write!(f, "table {t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Catalogs {
        crate::testing::catalogs()
    }

    #[test]
    fn catalogs_and_databases_resolve_by_id_or_display_name() {
        let m = model();
        assert_eq!(m.catalog_id("dev").as_deref(), Some("env-dev"));
        assert_eq!(m.catalog_id("env-dev").as_deref(), Some("env-dev"));
        assert_eq!(m.catalog_id("DEV"), None, "names are case-sensitive");
        assert_eq!(m.database_id("env-dev", "main").as_deref(), Some("lkc-dev"));
        assert_eq!(
            m.database_id("env-dev", "lkc-dev").as_deref(),
            Some("lkc-dev")
        );
        assert_eq!(
            m.database_id("examples", "marketplace").as_deref(),
            Some("marketplace")
        );
        assert_eq!(m.database_id("examples", "main"), None);
    }

    #[test]
    fn table_ref_renders_quoted() {
        let t = TableRef::new("env-dev", "lkc-dev", "we`ird.name");
        assert_eq!(t.to_string(), "`env-dev`.`lkc-dev`.`we``ird.name`");
    }

    #[test]
    fn crn_of_a_table_walks_the_hierarchy() {
        let m = model();
        let crn = m.crn(&ObjectRef::Table(TableRef::new(
            "env-dev", "lkc-dev", "orders",
        )));
        assert_eq!(
            crn.to_string(),
            "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders"
        );
    }
}
