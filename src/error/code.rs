//! Every error code the API answers with, and the one table that gives each its HTTP status.
//!
//! Codes are API: clients and dashboards match on them. Each layer names its failures with a
//! variant of [`ErrorCode`]; nothing else decides a status. The unit test below lists every
//! code with its status, so renaming a code or moving it to another status breaks the build.

use std::fmt;

use hyper::StatusCode;
use serde::{Serialize, Serializer};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal => $status:ident, )*) => {
        /// A stable, dotted error code (see the module doc).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as clients see it (`"authz.denied"`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $code, )*
                }
            }

            /// The HTTP status a request that ends with this code gets.
            pub fn status(self) -> StatusCode {
                match self {
                    $( ErrorCode::$variant => StatusCode::$status, )*
                }
            }
        }
    };
}

error_codes! {
    // --- authentication (401 unless the gateway, not the credential, is at fault)
    /// No `Authorization` header.
    AuthMissingCredentials = "auth.missing_credentials" => UNAUTHORIZED,
    /// An `Authorization` header that is neither Bearer nor Basic, or malformed.
    AuthMalformedHeader = "auth.malformed_header" => UNAUTHORIZED,
    /// Not a JWT.
    AuthMalformedToken = "auth.malformed_token" => UNAUTHORIZED,
    /// `exp` has passed.
    AuthTokenExpired = "auth.token_expired" => UNAUTHORIZED,
    /// `nbf` is in the future.
    AuthTokenNotYetValid = "auth.token_not_yet_valid" => UNAUTHORIZED,
    /// The signature does not verify.
    AuthBadSignature = "auth.bad_signature" => UNAUTHORIZED,
    /// `iss` is not a trusted issuer.
    AuthUnknownIssuer = "auth.unknown_issuer" => UNAUTHORIZED,
    /// `aud` is not the issuer's audience.
    AuthWrongAudience = "auth.wrong_audience" => UNAUTHORIZED,
    /// `kid` names no key of the issuer.
    AuthUnknownKey = "auth.unknown_key" => UNAUTHORIZED,
    /// An algorithm outside the allow-list.
    AuthUnsupportedAlgorithm = "auth.unsupported_algorithm" => UNAUTHORIZED,
    /// The header's algorithm is not the key's.
    AuthAlgorithmMismatch = "auth.algorithm_mismatch" => UNAUTHORIZED,
    /// `Confluent-Identity-Pool-Id` names no pool.
    AuthUnknownIdentityPool = "auth.unknown_identity_pool" => UNAUTHORIZED,
    /// The pool trusts another issuer.
    AuthPoolIssuerMismatch = "auth.pool_issuer_mismatch" => UNAUTHORIZED,
    /// The token does not pass the pool's filter.
    AuthPoolFilterMismatch = "auth.pool_filter_mismatch" => UNAUTHORIZED,
    /// A required claim is missing.
    AuthMissingClaim = "auth.missing_claim" => UNAUTHORIZED,
    /// A claim has the wrong shape.
    AuthInvalidClaim = "auth.invalid_claim" => UNAUTHORIZED,
    /// A claim appears twice.
    AuthDuplicateClaim = "auth.duplicate_claim" => UNAUTHORIZED,
    /// Unknown API key or wrong secret.
    AuthInvalidApiKey = "auth.invalid_api_key" => UNAUTHORIZED,
    /// Too many failed attempts from the peer or for the key.
    AuthTooManyFailures = "auth.too_many_failures" => TOO_MANY_REQUESTS,
    /// Every API-key verification slot is busy.
    AuthBusy = "auth.busy" => SERVICE_UNAVAILABLE,
    /// The issuer's keys could not be loaded.
    AuthJwksUnavailable = "auth.jwks_unavailable" => SERVICE_UNAVAILABLE,
    /// An unexpected failure while authenticating.
    AuthInternal = "auth.internal" => INTERNAL_SERVER_ERROR,
    /// `/metrics` behind a token, without the right one.
    MetricsUnauthorized = "metrics.unauthorized" => UNAUTHORIZED,

    // --- the request itself
    /// Body over `server.max_body_bytes`.
    RequestBodyTooLarge = "request.body_too_large" => PAYLOAD_TOO_LARGE,
    /// Body is not the expected JSON.
    RequestMalformedJson = "request.malformed_json" => BAD_REQUEST,
    /// Body could not be read.
    RequestUnreadableBody = "request.unreadable_body" => BAD_REQUEST,
    /// Body did not arrive within `server.body_read_timeout`.
    RequestBodyTimeout = "request.body_timeout" => REQUEST_TIMEOUT,
    /// Headers over `server.max_header_bytes`.
    RequestHeadersTooLarge = "request.headers_too_large" => REQUEST_HEADER_FIELDS_TOO_LARGE,
    /// A well-formed request with an invalid field or parameter.
    RequestInvalid = "request.invalid" => BAD_REQUEST,
    /// No such route, organization, environment, compute pool or statement.
    RequestNotFound = "request.not_found" => NOT_FOUND,
    /// The path exists, the method does not.
    RequestMethodNotAllowed = "request.method_not_allowed" => METHOD_NOT_ALLOWED,
    /// A results page token this gateway did not issue.
    ResultsBadPageToken = "results.bad_page_token" => BAD_REQUEST,

    // --- SQL
    /// Nothing but whitespace and comments.
    SqlEmpty = "sql.empty" => BAD_REQUEST,
    /// Over `sql.max_sql_bytes`.
    SqlTooLarge = "sql.too_large" => BAD_REQUEST,
    /// More than one statement.
    SqlMultipleStatements = "sql.multiple_statements" => BAD_REQUEST,
    /// Nested or chained deeper than the limits.
    SqlTooDeep = "sql.too_deep" => BAD_REQUEST,
    /// Too many tokens or nodes, or too much parser work.
    SqlTooComplex = "sql.too_complex" => BAD_REQUEST,
    /// An identifier over `sql.max_identifier_bytes`.
    SqlIdentifierTooLong = "sql.identifier_too_long" => BAD_REQUEST,
    /// Not valid Flink SQL.
    SqlParseError = "sql.parse_error" => BAD_REQUEST,
    /// A statement or clause the gateway cannot authorize.
    SqlUnsupported = "sql.unsupported" => BAD_REQUEST,
    /// A `/*+ … */` hint that is not passed on, or not where Flink reads hints.
    SqlHintNotAllowed = "sql.hint_not_allowed" => BAD_REQUEST,
    /// A table option, dynamic table option or session key outside its allow-list.
    SqlOptionNotAllowed = "sql.option_not_allowed" => BAD_REQUEST,
    /// A statement or clause refused whoever sends it (ADD JAR, CREATE CATALOG, …).
    SqlStatementNotAllowed = "sql.statement_not_allowed" => BAD_REQUEST,
    /// The statement's analysis passed `pipeline.deadline`.
    SqlDeadlineExceeded = "sql.deadline_exceeded" => SERVICE_UNAVAILABLE,
    /// No such catalog (or none the caller may know of).
    ResolveUnknownCatalog = "resolve.unknown_catalog" => NOT_FOUND,
    /// No such database (or none the caller may know of).
    ResolveUnknownDatabase = "resolve.unknown_database" => NOT_FOUND,
    /// A short name and no current catalog.
    ResolveNoCurrentCatalog = "resolve.no_current_catalog" => BAD_REQUEST,
    /// A short name and no current database.
    ResolveNoCurrentDatabase = "resolve.no_current_database" => BAD_REQUEST,
    /// More parts than `catalog.database.table`.
    ResolveTooManyNameParts = "resolve.too_many_name_parts" => BAD_REQUEST,
    /// Not an identifier.
    ResolveInvalidName = "resolve.invalid_name" => BAD_REQUEST,
    /// The canonical statement has no SQL text that reads as the same statement.
    ResolveUnrenderable = "resolve.unrenderable" => BAD_REQUEST,
    /// INFORMATION_SCHEMA read in a shape the gateway does not answer.
    ResolveInfoSchemaUnsupported = "resolve.information_schema_unsupported" => BAD_REQUEST,
    /// A relation escaped resolution (a bug, refused).
    RewriteUnresolvedRelation = "rewrite.unresolved_relation" => BAD_REQUEST,
    /// A read of a table under row filters or column masks where they cannot be enforced.
    RewriteDataPolicyUnenforceable = "rewrite.data_policy_unenforceable" => FORBIDDEN,
    /// A row filter or column mask that does not match its table's columns (fail closed).
    RewriteDataPolicyMismatch = "rewrite.data_policy_mismatch" => FORBIDDEN,
    /// EXPLAIN of a read through row filters or column masks (the plan would show them).
    RewriteDataPolicyExplain = "rewrite.data_policy_explain" => FORBIDDEN,

    // --- authorization
    /// An access no binding grants.
    AuthzDenied = "authz.denied" => FORBIDDEN,
    /// No role that runs statements in the environment.
    AuthzNotAllowedToRun = "authz.not_allowed_to_run" => FORBIDDEN,
    /// A change to the read-only `examples` catalog.
    AuthzReadOnly = "authz.read_only" => FORBIDDEN,
    /// An object in another region than the compute pool's.
    AuthzRegion = "authz.region" => FORBIDDEN,
    /// An administrative route without the administrative role.
    AuthzAdminRequired = "authz.admin_required" => FORBIDDEN,

    // --- iam/v2 role bindings
    /// A malformed binding.
    IamInvalidBinding = "iam.invalid_binding" => BAD_REQUEST,
    /// The caller may not grant or revoke there.
    IamForbidden = "iam.forbidden" => FORBIDDEN,
    /// No such binding.
    IamBindingNotFound = "iam.binding_not_found" => NOT_FOUND,
    /// The binding exists.
    IamDuplicateBinding = "iam.duplicate_binding" => CONFLICT,
    /// The policy files on disk do not validate with the change.
    IamPolicyInvalid = "iam.policy_invalid" => CONFLICT,
    /// `bindings.csv` is being written and did not settle.
    IamPolicyBusy = "iam.policy_busy" => CONFLICT,

    // --- statements and the engine
    /// The statement name is taken.
    StatementNameInUse = "statement.name_in_use" => CONFLICT,
    /// The principal has too many statements.
    StatementTooMany = "statement.too_many" => TOO_MANY_REQUESTS,
    /// The statement store cannot be read or written.
    StatementStoreUnavailable = "statement.store_unavailable" => SERVICE_UNAVAILABLE,
    /// The compute pool's slots are all in use and its queue of waiting statements is full.
    ComputePoolQueueFull = "compute_pool.queue_full" => TOO_MANY_REQUESTS,
    /// DROP VIEW or SHOW CREATE VIEW of a view that does not exist.
    ViewNotFound = "view.not_found" => NOT_FOUND,
    /// CREATE VIEW of a view that exists (without OR REPLACE or IF NOT EXISTS).
    ViewExists = "view.exists" => CONFLICT,
    /// A view and a table cannot share a name.
    ViewNameTaken = "view.name_taken" => CONFLICT,
    /// A table statement on a view, or a view statement on a table.
    ViewWrongKind = "view.wrong_kind" => BAD_REQUEST,
    /// A view that would read itself.
    ViewCycle = "view.cycle" => BAD_REQUEST,
    /// Views nested too deep.
    ViewTooDeep = "view.too_deep" => BAD_REQUEST,
    /// A view whose body no longer resolves.
    ViewBroken = "view.broken" => UNPROCESSABLE_ENTITY,
    /// A CREATE VIEW clause, or an engine, the gateway's views do not support.
    ViewUnsupported = "view.unsupported" => BAD_REQUEST,
    /// SHOW CREATE VIEW of a view whose body reads a table the caller has no role on.
    ViewDefinitionHidden = "view.definition_hidden" => FORBIDDEN,
    /// The view definitions could not be stored.
    ViewStorageError = "view.storage_error" => INTERNAL_SERVER_ERROR,
    /// Invalid for the engine (unknown column, type error, …).
    EnginePlanError = "engine.plan_error" => UNPROCESSABLE_ENTITY,
    /// Failed while running.
    EngineExecutionError = "engine.execution_error" => UNPROCESSABLE_ENTITY,
    /// CREATE of a table that exists.
    EngineTableExists = "engine.table_exists" => UNPROCESSABLE_ENTITY,
    /// A table that does not exist.
    EngineTableNotFound = "engine.table_not_found" => UNPROCESSABLE_ENTITY,
    /// A database that does not exist.
    EngineDatabaseNotFound = "engine.database_not_found" => UNPROCESSABLE_ENTITY,
    /// A statement kind the engine does not run.
    EngineUnsupported = "engine.unsupported" => UNPROCESSABLE_ENTITY,
    /// More rows than `engine.max_result_rows`.
    EngineResultTooLarge = "engine.result_too_large" => UNPROCESSABLE_ENTITY,
    /// A write to a read-only catalog.
    EngineReadOnly = "engine.read_only" => FORBIDDEN,
    /// The plan reads a table that was not authorized.
    EngineUncheckedTable = "engine.unchecked_table" => FORBIDDEN,
    /// Table files could not be read or written.
    EngineStorageError = "engine.storage_error" => INTERNAL_SERVER_ERROR,
    /// A bug in the engine.
    EngineInternal = "engine.internal" => INTERNAL_SERVER_ERROR,
    /// The storage behind the statement did not answer; nothing ran.
    EngineUnavailable = "engine.unavailable" => SERVICE_UNAVAILABLE,

    // --- the gateway
    /// Starting or draining.
    GatewayUnavailable = "gateway.unavailable" => SERVICE_UNAVAILABLE,
    /// The decision workers' queue is full.
    GatewayBusy = "gateway.busy" => SERVICE_UNAVAILABLE,
    /// The audit log cannot be written (or served); nothing runs unaudited.
    AuditUnavailable = "audit.unavailable" => SERVICE_UNAVAILABLE,
    /// A bug or an unexpected failure.
    Internal = "internal" => INTERNAL_SERVER_ERROR,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl From<ErrorCode> for String {
    fn from(c: ErrorCode) -> String {
        c.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's codes and statuses, written out: a rename or a new status is a visible change.
    const TABLE: &[(&str, u16)] = &[
        ("auth.missing_credentials", 401),
        ("auth.malformed_header", 401),
        ("auth.malformed_token", 401),
        ("auth.token_expired", 401),
        ("auth.token_not_yet_valid", 401),
        ("auth.bad_signature", 401),
        ("auth.unknown_issuer", 401),
        ("auth.wrong_audience", 401),
        ("auth.unknown_key", 401),
        ("auth.unsupported_algorithm", 401),
        ("auth.algorithm_mismatch", 401),
        ("auth.unknown_identity_pool", 401),
        ("auth.pool_issuer_mismatch", 401),
        ("auth.pool_filter_mismatch", 401),
        ("auth.missing_claim", 401),
        ("auth.invalid_claim", 401),
        ("auth.duplicate_claim", 401),
        ("auth.invalid_api_key", 401),
        ("auth.too_many_failures", 429),
        ("auth.busy", 503),
        ("auth.jwks_unavailable", 503),
        ("auth.internal", 500),
        ("metrics.unauthorized", 401),
        ("request.body_too_large", 413),
        ("request.malformed_json", 400),
        ("request.unreadable_body", 400),
        ("request.body_timeout", 408),
        ("request.headers_too_large", 431),
        ("request.invalid", 400),
        ("request.not_found", 404),
        ("request.method_not_allowed", 405),
        ("results.bad_page_token", 400),
        ("sql.empty", 400),
        ("sql.too_large", 400),
        ("sql.multiple_statements", 400),
        ("sql.too_deep", 400),
        ("sql.too_complex", 400),
        ("sql.identifier_too_long", 400),
        ("sql.parse_error", 400),
        ("sql.unsupported", 400),
        ("sql.hint_not_allowed", 400),
        ("sql.option_not_allowed", 400),
        ("sql.statement_not_allowed", 400),
        ("sql.deadline_exceeded", 503),
        ("resolve.unknown_catalog", 404),
        ("resolve.unknown_database", 404),
        ("resolve.no_current_catalog", 400),
        ("resolve.no_current_database", 400),
        ("resolve.too_many_name_parts", 400),
        ("resolve.invalid_name", 400),
        ("resolve.unrenderable", 400),
        ("resolve.information_schema_unsupported", 400),
        ("rewrite.unresolved_relation", 400),
        ("rewrite.data_policy_unenforceable", 403),
        ("rewrite.data_policy_mismatch", 403),
        ("rewrite.data_policy_explain", 403),
        ("authz.denied", 403),
        ("authz.not_allowed_to_run", 403),
        ("authz.read_only", 403),
        ("authz.region", 403),
        ("authz.admin_required", 403),
        ("iam.invalid_binding", 400),
        ("iam.forbidden", 403),
        ("iam.binding_not_found", 404),
        ("iam.duplicate_binding", 409),
        ("iam.policy_invalid", 409),
        ("iam.policy_busy", 409),
        ("statement.name_in_use", 409),
        ("statement.too_many", 429),
        ("statement.store_unavailable", 503),
        ("compute_pool.queue_full", 429),
        ("view.not_found", 404),
        ("view.exists", 409),
        ("view.name_taken", 409),
        ("view.wrong_kind", 400),
        ("view.cycle", 400),
        ("view.too_deep", 400),
        ("view.broken", 422),
        ("view.unsupported", 400),
        ("view.definition_hidden", 403),
        ("view.storage_error", 500),
        ("engine.plan_error", 422),
        ("engine.execution_error", 422),
        ("engine.table_exists", 422),
        ("engine.table_not_found", 422),
        ("engine.database_not_found", 422),
        ("engine.unsupported", 422),
        ("engine.result_too_large", 422),
        ("engine.read_only", 403),
        ("engine.unchecked_table", 403),
        ("engine.storage_error", 500),
        ("engine.internal", 500),
        ("engine.unavailable", 503),
        ("gateway.unavailable", 503),
        ("gateway.busy", 503),
        ("audit.unavailable", 503),
        ("internal", 500),
    ];

    #[test]
    fn every_code_has_its_documented_string_and_status() {
        let actual: Vec<(&str, u16)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str(), c.status().as_u16()))
            .collect();
        assert_eq!(actual, TABLE);
    }

    #[test]
    fn codes_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(
                c.as_str() == "internal" || c.as_str().split_once('.').is_some(),
                "{c}"
            );
        }
    }
}
