//! CTE scoping for the visitors of `resolve` and `rewrite`.
//!
//! sqlparser's visitor reports every `ObjectName` in relation position, CTE references
//! included. A single-part name is a CTE reference exactly when a CTE of that name is in scope:
//! the CTEs of every enclosing `WITH`, where inside the body of a CTE only the CTEs defined
//! *before* it in the same `WITH` are visible (non-recursive `WITH`, as in Flink). So a CTE
//! named like a table hides the table only inside its scope, and a table named like a CTE of an
//! unrelated (or later) `WITH` is still the table.
//!
//! The visitor gives no callback between two CTEs of one `WITH`, so each scope remembers the
//! address of each CTE's query and recognizes it when the visitor enters it. Addresses are only
//! compared, never dereferenced.

use std::collections::HashMap;

use datafusion::sql::sqlparser::ast::{ObjectName, ObjectNamePart, Query};

/// One `WITH` (or a query without one, for balanced push/pop). Looked up by hash: a `WITH`
/// may hold thousands of CTEs within the bounds, and every relation and query asks.
#[derive(Debug)]
struct Scope {
    /// The position of each CTE, by the address of its query.
    positions: HashMap<*const Query, usize>,
    /// Each CTE name (verbatim, case-sensitive) with the position of its first definition.
    names: HashMap<String, usize>,
    /// How many CTEs (by position) are visible right now.
    visible: usize,
}

/// The stack of `WITH` scopes enclosing the visitor's position.
#[derive(Debug, Default)]
pub(crate) struct CteScopes {
    stack: Vec<Scope>,
}

impl CteScopes {
    /// Call from `pre_visit_query`.
    pub(crate) fn enter(&mut self, query: &Query) {
        let addr = query as *const Query;
        if let Some(top) = self.stack.last_mut()
            && let Some(i) = top.positions.get(&addr)
        {
            // Entering the body of the i-th CTE: it sees the ones before it.
            top.visible = *i;
        }
        let mut scope = Scope {
            positions: HashMap::new(),
            names: HashMap::new(),
            visible: 0,
        };
        let ctes = query.with.iter().flat_map(|w| &w.cte_tables);
        for (i, cte) in ctes.enumerate() {
            scope.positions.insert(&*cte.query as *const Query, i);
            scope.names.entry(cte.alias.name.value.clone()).or_insert(i);
        }
        self.stack.push(scope);
    }

    /// Call from `post_visit_query`.
    pub(crate) fn exit(&mut self, query: &Query) {
        self.stack.pop();
        let addr = query as *const Query;
        if let Some(top) = self.stack.last_mut()
            && let Some(i) = top.positions.get(&addr)
        {
            // Past the i-th CTE: it and every one before it are visible from here on.
            top.visible = i + 1;
        }
    }

    /// Whether `name` refers to a CTE in scope rather than to a table.
    pub(crate) fn is_cte(&self, name: &ObjectName) -> bool {
        let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
            return false;
        };
        self.stack
            .iter()
            .any(|s| s.names.get(&ident.value).is_some_and(|i| *i < s.visible))
    }
}
