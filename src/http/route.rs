//! Path and method matching: turns a request line into a [`Route`].
//!
//! Owns the URL layout of the API and nothing else; handlers receive the extracted segments.

use hyper::Method;

/// Every route the gateway serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`: the process is up.
    Health,
    /// `GET /readyz`: the gateway accepts statements.
    Ready,
    /// `GET /metrics`: Prometheus/OpenMetrics exposition.
    Metrics,
    /// `POST …/statements`.
    CreateStatement(EnvPath),
    /// `GET …/statements`.
    ListStatements(EnvPath),
    /// `GET …/statements/{name}`.
    GetStatement(EnvPath, String),
    /// `DELETE …/statements/{name}`.
    DeleteStatement(EnvPath, String),
    /// `PATCH …/statements/{name}`.
    PatchStatement(EnvPath, String),
    /// `GET …/statements/{name}/results`.
    Results(EnvPath, String),
    /// `POST /iam/v2/role-bindings`.
    CreateRoleBinding,
    /// `GET /iam/v2/role-bindings`.
    ListRoleBindings,
    /// `GET /iam/v2/role-bindings/{id}`.
    GetRoleBinding(String),
    /// `DELETE /iam/v2/role-bindings/{id}`.
    DeleteRoleBinding(String),
    /// `POST /sqlgate/v1/check`: explain a decision without running anything (admins).
    Check,
    /// `GET /sqlgate/v1/audit`: query the audit log (AuditLogReader, OrganizationAdmin).
    Audit,
}

/// The `/sql/v1/organizations/{org}/environments/{env}` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPath {
    /// Organization id from the path.
    pub org: String,
    /// Environment id from the path.
    pub env: String,
}

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// Nothing at this path.
    NotFound,
    /// The path exists but not with this method; carries the allowed methods.
    MethodNotAllowed(&'static str),
}

/// Matches a method and path (without query string).
///
/// ```
/// use sqlgate::http::route::{match_route, Route};
/// use hyper::Method;
/// let r = match_route(&Method::GET, "/sql/v1/organizations/o/environments/e/statements/s/results");
/// assert!(matches!(r, Ok(Route::Results(_, name)) if name == "s"));
/// ```
pub fn match_route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segs.as_slice() {
        ["healthz"] => only(method, Method::GET, "GET", Route::Health),
        ["readyz"] => only(method, Method::GET, "GET", Route::Ready),
        ["metrics"] => only(method, Method::GET, "GET", Route::Metrics),
        ["sqlgate", "v1", "check"] => only(method, Method::POST, "POST", Route::Check),
        ["sqlgate", "v1", "audit"] => only(method, Method::GET, "GET", Route::Audit),
        ["iam", "v2", "role-bindings"] => match *method {
            Method::POST => Ok(Route::CreateRoleBinding),
            Method::GET => Ok(Route::ListRoleBindings),
            _ => Err(NoRoute::MethodNotAllowed("GET, POST")),
        },
        ["iam", "v2", "role-bindings", id] if !id.is_empty() => match *method {
            Method::GET => Ok(Route::GetRoleBinding((*id).to_string())),
            Method::DELETE => Ok(Route::DeleteRoleBinding((*id).to_string())),
            _ => Err(NoRoute::MethodNotAllowed("GET, DELETE")),
        },
        [
            "sql",
            "v1",
            "organizations",
            org,
            "environments",
            env,
            "statements",
            rest @ ..,
        ] if !org.is_empty() && !env.is_empty() => {
            let p = EnvPath {
                org: (*org).to_string(),
                env: (*env).to_string(),
            };
            match (rest, method) {
                ([], &Method::POST) => Ok(Route::CreateStatement(p)),
                ([], &Method::GET) => Ok(Route::ListStatements(p)),
                ([], _) => Err(NoRoute::MethodNotAllowed("GET, POST")),
                ([name], m) if !name.is_empty() => {
                    let n = (*name).to_string();
                    match *m {
                        Method::GET => Ok(Route::GetStatement(p, n)),
                        Method::DELETE => Ok(Route::DeleteStatement(p, n)),
                        Method::PATCH => Ok(Route::PatchStatement(p, n)),
                        _ => Err(NoRoute::MethodNotAllowed("GET, DELETE, PATCH")),
                    }
                }
                ([name, "results"], m) if !name.is_empty() => only(
                    m,
                    Method::GET,
                    "GET",
                    Route::Results(p, (*name).to_string()),
                ),
                _ => Err(NoRoute::NotFound),
            }
        }
        _ => Err(NoRoute::NotFound),
    }
}

impl Route {
    /// The organization/environment prefix of statement routes.
    pub fn env(&self) -> Option<&EnvPath> {
        match self {
            Route::CreateStatement(p) | Route::ListStatements(p) => Some(p),
            Route::GetStatement(p, _)
            | Route::DeleteStatement(p, _)
            | Route::PatchStatement(p, _)
            | Route::Results(p, _) => Some(p),
            Route::Health | Route::Ready | Route::Metrics => None,
            Route::CreateRoleBinding
            | Route::ListRoleBindings
            | Route::GetRoleBinding(_)
            | Route::DeleteRoleBinding(_)
            | Route::Check
            | Route::Audit => None,
        }
    }

    /// A short name for logs and metrics (never the path: it carries ids).
    pub fn name(&self) -> &'static str {
        match self {
            Route::Health => "healthz",
            Route::Ready => "readyz",
            Route::Metrics => "metrics",
            Route::CreateStatement(_) => "create_statement",
            Route::ListStatements(_) => "list_statements",
            Route::GetStatement(..) => "get_statement",
            Route::DeleteStatement(..) => "delete_statement",
            Route::PatchStatement(..) => "patch_statement",
            Route::Results(..) => "results",
            Route::CreateRoleBinding => "create_role_binding",
            Route::Check => "check",
            Route::Audit => "audit",
            Route::ListRoleBindings => "list_role_bindings",
            Route::GetRoleBinding(_) => "get_role_binding",
            Route::DeleteRoleBinding(_) => "delete_role_binding",
        }
    }
}

fn only(
    method: &Method,
    want: Method,
    allow: &'static str,
    route: Route,
) -> Result<Route, NoRoute> {
    if *method == want {
        Ok(route)
    } else {
        Err(NoRoute::MethodNotAllowed(allow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/sql/v1/organizations/org-dev/environments/env-dev";

    #[test]
    fn statement_routes_match() {
        let p = EnvPath {
            org: "org-dev".into(),
            env: "env-dev".into(),
        };
        let s = format!("{BASE}/statements");
        assert_eq!(
            match_route(&Method::POST, &s),
            Ok(Route::CreateStatement(p.clone()))
        );
        assert_eq!(
            match_route(&Method::GET, &s),
            Ok(Route::ListStatements(p.clone()))
        );
        let one = format!("{BASE}/statements/x");
        assert_eq!(
            match_route(&Method::DELETE, &one),
            Ok(Route::DeleteStatement(p.clone(), "x".into()))
        );
        assert_eq!(
            match_route(&Method::PATCH, &one),
            Ok(Route::PatchStatement(p.clone(), "x".into()))
        );
        assert_eq!(
            match_route(&Method::PUT, &one),
            Err(NoRoute::MethodNotAllowed("GET, DELETE, PATCH"))
        );
    }

    #[test]
    fn unknown_paths_do_not_match() {
        for path in [
            "/",
            "/sql/v1",
            "/sql/v1/organizations//environments/e/statements",
            "/statements",
            "/healthz/x",
        ] {
            assert_eq!(
                match_route(&Method::GET, path),
                Err(NoRoute::NotFound),
                "{path}"
            );
        }
    }
}
