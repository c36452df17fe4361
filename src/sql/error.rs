//! Errors of the SQL stages, each with a stable dotted `code()` and a `detail()` for people.

use crate::error::ErrorCode;

/// Why a statement text was refused before name resolution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// Nothing but whitespace, comments and semicolons.
    #[error("empty statement")]
    Empty,
    /// Longer than the configured limit.
    #[error("statement larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More than one statement in one request (statement smuggling).
    #[error("more than one statement")]
    MultipleStatements,
    /// Nested deeper than the parser's recursion limit.
    #[error("statement nested deeper than {limit} levels")]
    TooDeep {
        /// The recursion limit.
        limit: usize,
    },
    /// Past one of the shape bounds of [`super::ParseLimits`] (see [`super::bounds`]).
    #[error("statement has {found} {}, over the limit of {limit}", bound.what())]
    TooComplex {
        /// Which bound.
        bound: super::bounds::Bound,
        /// What was measured (at least this much).
        found: usize,
        /// The limit.
        limit: usize,
        /// 1-based line of the deepest point, when known.
        line: Option<u64>,
        /// 1-based column of the deepest point, when known.
        column: Option<u64>,
    },
    /// Not valid SQL for the Flink dialect.
    #[error("parse error: {message} (line {line:?}, column {column:?})")]
    Parse {
        /// The parser's message without its location suffix.
        message: String,
        /// 1-based line, when the parser reported one.
        line: Option<u64>,
        /// 1-based column, when the parser reported one.
        column: Option<u64>,
    },
    /// A statement kind (or clause) the gateway does not know how to authorize.
    #[error("unsupported statement: {0}")]
    Unsupported(String),
    /// A `/*+ … */` hint the gateway does not pass on, or one where Flink reads none (see
    /// `sql/hints.rs`).
    #[error("hint {hint} not allowed: {reason}")]
    HintNotAllowed {
        /// The hint's name as written (upper-cased), or the names of a misplaced comment.
        hint: String,
        /// Why, for people.
        reason: String,
    },
    /// A table option, dynamic table option or session key outside its allow-list (see
    /// `sql/guard.rs` and `sql/hints.rs`).
    #[error("{context} '{option}' not allowed: {reason}")]
    OptionNotAllowed {
        /// The option's key as written (never its value, which may be a secret).
        option: String,
        /// What kind of option (`table option`, `dynamic table option …`, `session option (SET)`).
        context: &'static str,
        /// Why, for people.
        reason: String,
    },
    /// A statement or clause refused whoever sends it (`ADD JAR`, `CREATE CATALOG`, …).
    #[error("{what} not allowed: {reason}")]
    StatementNotAllowed {
        /// The statement or clause (`ADD JAR`).
        what: String,
        /// Why, for people.
        reason: String,
    },
}

impl SqlError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            SqlError::Empty => ErrorCode::SqlEmpty,
            SqlError::TooLarge { .. } => ErrorCode::SqlTooLarge,
            SqlError::MultipleStatements => ErrorCode::SqlMultipleStatements,
            SqlError::TooDeep { .. } => ErrorCode::SqlTooDeep,
            SqlError::TooComplex { bound, .. } => match bound {
                super::bounds::Bound::Nesting | super::bounds::Bound::Depth => {
                    ErrorCode::SqlTooDeep
                }
                super::bounds::Bound::Identifier => ErrorCode::SqlIdentifierTooLong,
                super::bounds::Bound::Tokens
                | super::bounds::Bound::Nodes
                | super::bounds::Bound::ParseAttempts => ErrorCode::SqlTooComplex,
            },
            SqlError::Parse { .. } => ErrorCode::SqlParseError,
            SqlError::Unsupported(_) => ErrorCode::SqlUnsupported,
            SqlError::HintNotAllowed { .. } => ErrorCode::SqlHintNotAllowed,
            SqlError::OptionNotAllowed { .. } => ErrorCode::SqlOptionNotAllowed,
            SqlError::StatementNotAllowed { .. } => ErrorCode::SqlStatementNotAllowed,
        }
    }

    /// Message for the client.
    pub fn detail(&self) -> String {
        match self {
            SqlError::Empty => "The statement is empty.".into(),
            SqlError::TooLarge { limit } => {
                format!("The statement is larger than the limit of {limit} bytes.")
            }
            SqlError::MultipleStatements => {
                "Only one SQL statement per request is allowed; submit each statement separately."
                    .into()
            }
            SqlError::TooDeep { limit } => {
                format!("The statement is nested more deeply than the limit of {limit} levels.")
            }
            SqlError::TooComplex {
                bound: super::bounds::Bound::ParseAttempts,
                ..
            } => "The statement is too complex to parse: it nests constructs (such as POSITION(, ARRAY[ or CAST() that the parser has to retry, with an error deep inside. Check the innermost part of the nesting for a mistake, or simplify the statement.".into(),
            SqlError::TooComplex {
                bound,
                found,
                limit,
                line: Some(line),
                column: Some(column),
            } => format!(
                "The statement has {found} {} (deepest at line {line}, column {column}); the limit is {limit}. Simplify it or split it into several statements.",
                bound.what()
            ),
            SqlError::TooComplex {
                bound,
                found,
                limit,
                ..
            } => format!(
                "The statement has {found} {}; the limit is {limit}. Simplify it or split it into several statements.",
                bound.what()
            ),
            SqlError::Parse {
                message,
                line: Some(line),
                column: Some(column),
            } => format!("SQL parse error at line {line}, column {column}: {message}"),
            SqlError::Parse { message, .. } => format!("SQL parse error: {message}"),
            SqlError::Unsupported(what) => {
                format!("{what} is not supported by this gateway.")
            }
            SqlError::HintNotAllowed { hint, reason } => {
                format!("The hint {hint} is not allowed: {reason}.")
            }
            SqlError::OptionNotAllowed {
                option,
                context,
                reason,
            } => format!("The {context} '{option}' is not supported here: {reason}."),
            SqlError::StatementNotAllowed { what, reason } => {
                format!("{what} is not allowed through this gateway: {reason}.")
            }
        }
    }
}

/// Why a name could not be bound to a canonical object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A view read or created in a way the gateway refuses (see [`crate::views`]).
    #[error(transparent)]
    View(crate::views::ViewError),
    /// No such catalog (or not one this gateway serves).
    #[error("unknown catalog `{0}`")]
    UnknownCatalog(String),
    /// No such database in the (known) catalog.
    #[error("unknown database `{database}` in catalog `{catalog}`")]
    UnknownDatabase {
        /// Canonical id of the catalog searched.
        catalog: String,
        /// The database name as written.
        database: String,
    },
    /// A 1- or 2-part name, and no current catalog in the session.
    #[error("no current catalog for `{0}`")]
    NoCurrentCatalog(String),
    /// A 1-part name, and no current database in the session.
    #[error("no current database for `{0}`")]
    NoCurrentDatabase(String),
    /// More parts than `catalog.database.table`.
    #[error("too many name parts in `{0}`")]
    TooManyNameParts(String),
    /// A name part that is not an identifier (e.g. a dialect's identifier function).
    #[error("invalid name `{0}`")]
    InvalidName(String),
    /// The canonical statement, written out as SQL text, would read as another statement
    /// (see `sql/render.rs`).
    #[error("the statement has no faithful SQL rendering")]
    Unrenderable,
    /// A read of INFORMATION_SCHEMA in a shape the gateway does not answer (see
    /// `crate::infoschema`): written to, combined with a table, or a view it does not have.
    #[error("unsupported INFORMATION_SCHEMA use: {0}")]
    InfoSchemaUnsupported(String),
    /// A hint whose node resolution replaced (a table hint on a view's name): refused,
    /// never dropped or put elsewhere (see `sql/hints.rs`).
    #[error("hint {0} follows a name that is not a table")]
    HintUnplaced(String),
}

impl ResolveError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ResolveError::View(e) => e.code(),
            ResolveError::UnknownCatalog(_) => ErrorCode::ResolveUnknownCatalog,
            ResolveError::UnknownDatabase { .. } => ErrorCode::ResolveUnknownDatabase,
            ResolveError::NoCurrentCatalog(_) => ErrorCode::ResolveNoCurrentCatalog,
            ResolveError::NoCurrentDatabase(_) => ErrorCode::ResolveNoCurrentDatabase,
            ResolveError::TooManyNameParts(_) => ErrorCode::ResolveTooManyNameParts,
            ResolveError::InvalidName(_) => ErrorCode::ResolveInvalidName,
            ResolveError::Unrenderable => ErrorCode::ResolveUnrenderable,
            ResolveError::InfoSchemaUnsupported(_) => ErrorCode::ResolveInfoSchemaUnsupported,
            ResolveError::HintUnplaced(_) => ErrorCode::SqlHintNotAllowed,
        }
    }

    /// Message for the client. Unknown names read the same whether or not the object exists in
    /// some other catalog, so the message reveals nothing beyond what was written.
    pub fn detail(&self) -> String {
        match self {
            ResolveError::View(e) => e.detail(),
            ResolveError::UnknownCatalog(c) => {
                format!("Catalog `{c}` was not found (it does not exist or is not available here).")
            }
            ResolveError::UnknownDatabase { catalog, database } => format!(
                "Database `{database}` was not found in catalog `{catalog}` (it does not exist or is not available here)."
            ),
            ResolveError::NoCurrentCatalog(name) => format!(
                "`{name}` is not fully qualified and no current catalog is set; use `catalog`.`database`.`table` or set sql.current-catalog."
            ),
            ResolveError::NoCurrentDatabase(name) => format!(
                "`{name}` is not qualified by a database and no current database is set; use `database`.`table` or set sql.current-database."
            ),
            ResolveError::TooManyNameParts(name) => format!(
                "`{name}` has too many parts; a table is named `catalog`.`database`.`table` at most."
            ),
            ResolveError::InvalidName(name) => {
                format!("`{name}` is not a valid object name.")
            }
            ResolveError::Unrenderable => "The statement cannot be passed on to the engine \
                unchanged: written out as SQL text it would read as a different statement. \
                This happens with doubled quote characters inside a quoted name and with \
                directly nested signs such as `- -x` (which reads as a comment); rewrite that \
                part, e.g. as `-(-x)`."
                .to_string(),
            ResolveError::InfoSchemaUnsupported(why) => format!(
                "INFORMATION_SCHEMA is answered by the gateway for SELECT statements that read \
                 only its views; {why}."
            ),
            ResolveError::HintUnplaced(hint) => format!(
                "The hint {hint} is not allowed: it follows the name of a view, and Flink \
                 applies table hints to tables only; put it on the table in the view's body."
            ),
        }
    }
}
