//! The proof of stage 2: [`ParsedStatement`], exactly one allowed statement within the bounds.
//!
//! Owns the type and its one constructor, which only `sql::parse` can call (it is
//! `pub(super)` here, so the rest of `sql` can read a parsed statement but not make one). It
//! carries no principal or placement: parsing does not depend on who asks or where the
//! statement runs, and the audit stage parses before either is known.

use datafusion::sql::sqlparser::ast::Statement;

use crate::sql::flink::FlinkStatement;
use crate::sql::hints::Placed;

/// What the parser made of the text, before it becomes a [`ParsedStatement`].
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved once into ParsedStatement, which holds the Statement by value anyway"
)]
pub(in crate::sql) enum Body {
    /// A statement sqlparser's AST holds.
    Sql(Statement),
    /// A statement it cannot hold, kept as text and name sites.
    Flink(FlinkStatement),
}

/// Exactly one allowed statement, as parsed, with its original text.
#[derive(Debug)]
pub struct ParsedStatement {
    /// For a Flink-only statement, a stand-in (see [`ParsedStatement::is_flink_only`]).
    statement: Statement,
    /// A statement sqlparser's AST cannot hold, kept as text and name sites.
    flink: Option<FlinkStatement>,
    text: String,
    /// The text without literals or comments (see [`crate::sql::without_literals`]), for
    /// audit records.
    literal_free: String,
    /// The `/*+ … */` hints, checked and placed on [`Self::statements`] (see `sql/hints.rs`).
    hints: Vec<Placed>,
}

impl ParsedStatement {
    /// The one constructor: `sql::parse`, once every check passed.
    pub(super) fn new(text: &str, literal_free: String, body: Body) -> Self {
        let (statement, flink) = match body {
            Body::Sql(statement) => (statement, None),
            Body::Flink(flink) => (flink.stand_in(), Some(flink)),
        };
        Self {
            statement,
            flink,
            text: text.to_string(),
            literal_free,
            hints: Vec::new(),
        }
    }

    /// Records the hints placed on the statement (`sql::parse`, once its statements are
    /// known).
    pub(super) fn set_hints(&mut self, hints: Vec<Placed>) {
        self.hints = hints;
    }

    /// Takes the statement apart for resolution: the statement (for a Flink-only statement a
    /// stand-in, `ASSERT false, 'Flink statement <KIND> has no sqlparser form'`) and the
    /// Flink-only form.
    pub(in crate::sql) fn into_parts(self) -> (Statement, Option<FlinkStatement>, Vec<Placed>) {
        (self.statement, self.flink, self.hints)
    }

    /// Whether sqlparser's AST cannot hold the statement (Flink-only DDL, SHOW, SET, …): it is
    /// then carried as text whose names resolution rewrites. (Tests of the grammar; the
    /// stages read the form itself.)
    #[cfg(test)]
    pub(crate) fn is_flink_only(&self) -> bool {
        self.flink.is_some()
    }

    /// Flink's statement kind when it is Flink-only (`ALTER_TABLE`, `SHOW_VIEWS`, …).
    #[cfg(test)]
    pub(crate) fn flink_kind(&self) -> Option<&'static str> {
        self.flink.as_ref().map(|f| f.kind())
    }

    /// The text it was parsed from.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The text with every literal replaced by `?` and comments dropped (see
    /// [`crate::sql::without_literals`]): what an audit record may carry.
    pub(crate) fn literal_free_text(&self) -> &str {
        &self.literal_free
    }

    /// Every sqlparser statement it holds: the statement itself, or for a Flink-only statement
    /// the embedded ones (CTAS and view bodies, the INSERTs of a statement set, …).
    pub(crate) fn statements(&self) -> Box<dyn Iterator<Item = &Statement> + '_> {
        match &self.flink {
            Some(f) => Box::new(f.statements()),
            None => Box::new(std::iter::once(&self.statement)),
        }
    }
}
