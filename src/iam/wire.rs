//! The iam/v2 JSON shapes (Confluent's `RoleBinding` and `RoleBindingList`).

use serde::{Deserialize, Serialize};

use super::ROLE_BINDINGS_PATH;
use crate::authz::BindingRecord;

/// Body of `POST /iam/v2/role-bindings`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateRoleBindingRequest {
    /// `User:u-…`, `User:sa-…`, `User:pool-…`.
    pub principal: String,
    /// A role defined in `roles.csv`.
    pub role_name: String,
    /// Where it applies; a trailing `*` makes it PREFIXED.
    pub crn_pattern: String,
}

/// `metadata` of a role binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleBindingMetadata {
    /// Absolute URL of the binding.
    #[serde(rename = "self")]
    pub self_url: String,
    /// `crn://confluent.cloud/organization=<org>/role-binding=<id>`.
    pub resource_name: String,
    /// When the API created it (unknown for hand-written lines: `null`).
    pub created_at: Option<String>,
    /// Bindings are immutable: the same as `created_at`.
    pub updated_at: Option<String>,
}

/// One role binding on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleBinding {
    /// `iam/v2`.
    pub api_version: String,
    /// `RoleBinding`.
    pub kind: String,
    /// `rb-…`.
    pub id: String,
    /// Links and timestamps.
    pub metadata: RoleBindingMetadata,
    /// Principal.
    pub principal: String,
    /// Role.
    pub role_name: String,
    /// Pattern.
    pub crn_pattern: String,
}

impl RoleBinding {
    /// The wire form of a binding; `base` is `https://<authority>`.
    pub fn new(r: &BindingRecord, base: &str, organization_id: &str) -> Self {
        Self {
            api_version: "iam/v2".into(),
            kind: "RoleBinding".into(),
            id: r.id.clone(),
            metadata: RoleBindingMetadata {
                self_url: format!("{base}{ROLE_BINDINGS_PATH}/{}", r.id),
                resource_name: format!(
                    "crn://confluent.cloud/organization={organization_id}/role-binding={}",
                    r.id
                ),
                created_at: r.created_at.clone(),
                updated_at: r.created_at.clone(),
            },
            principal: r.principal.clone(),
            role_name: r.role.clone(),
            crn_pattern: r.pattern.to_string(),
        }
    }
}

/// `metadata` of a list page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMetadata {
    /// The first page with the same filters.
    pub first: String,
    /// The next page (`""` on the last page).
    pub next: String,
}

/// One page of `GET /iam/v2/role-bindings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleBindingList {
    /// `iam/v2`.
    pub api_version: String,
    /// `RoleBindingList`.
    pub kind: String,
    /// Paging links.
    pub metadata: ListMetadata,
    /// The bindings of this page, by id.
    pub data: Vec<RoleBinding>,
}

impl RoleBindingList {
    /// A page.
    pub fn new(first: String, next: String, data: Vec<RoleBinding>) -> Self {
        Self {
            api_version: "iam/v2".into(),
            kind: "RoleBindingList".into(),
            metadata: ListMetadata { first, next },
            data,
        }
    }
}

/// Whether `s` looks like an id this gateway issues (`rb-` + 12 lowercase hex digits).
pub(super) fn is_binding_id(s: &str) -> bool {
    s.strip_prefix("rb-")
        .is_some_and(|h| h.len() == 12 && h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
}
