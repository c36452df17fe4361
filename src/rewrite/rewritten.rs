//! The proof of stage 5: [`RewrittenStatement`], the statement the engine runs, and the
//! engine's only input.
//!
//! Owns the type, its read accessors (what every engine reads: the canonical statement or
//! Flink text, its kind, its DDL as data, its accesses) and its one constructor, which only
//! `rewrite::rewrite` can call (`pub(super)` here). It keeps the [`Warrant`] of the
//! [`AuthorizedStatement`](crate::authz::AuthorizedStatement) it was made from: the principal,
//! the placement and the policy version it holds for. It is not `Clone`.

use datafusion::sql::sqlparser::ast::Statement;

use super::{AppliedPolicies, ReadPolicies};
use crate::authz::{Claims, Decision, Warrant};
use crate::sql::{Access, FlinkDdl, SqlText};
use crate::views::ViewUse;

/// The statement the engine runs: canonical names only, built by [`crate::rewrite::rewrite`] from
/// an [`AuthorizedStatement`](crate::authz::AuthorizedStatement), whose [`Warrant`] it keeps.
#[derive(Debug)]
pub struct RewrittenStatement {
    statement: Statement,
    /// `statement` as SQL text that parses back to it (`sql/render.rs`), or the canonical
    /// text of a Flink-only statement.
    sql: String,
    /// The canonical text of a Flink-only statement (then `statement` is a stand-in).
    flink_sql: Option<String>,
    /// The embedded statements of a Flink-only statement, rewritten (row filters and column
    /// masks enforced in them).
    embedded: Vec<Statement>,
    /// How the text is made from the statement or the embedded statements, with their
    /// hints: what an engine that rewrites them further renders them with.
    text: SqlText,
    /// A Flink-only CREATE / ALTER TABLE as data, parsed from `flink_sql`.
    ddl: Option<FlinkDdl>,
    kind: &'static str,
    accesses: Vec<Access>,
    decisions: Vec<Decision>,
    warrant: Warrant,
    applied: Vec<AppliedPolicies>,
    /// The claims of the caller's token it was rewritten with (the listings the gateway runs
    /// for the caller, INFORMATION_SCHEMA's DESCRIBE, are rewritten with them too).
    claims: Claims,
    described_as: Option<DescribedAs>,
    /// What it reads under which filters and masks, as decided (see [`ReadPolicies`]).
    reads: Option<ReadPolicies>,
    /// What the statement does with views (see [`crate::views`]).
    views: ViewUse,
}

/// For a DESCRIBE of a table with column masks for the caller: the masked projection of the
/// table, whose result types and nullability the engine reports for the masked columns.
#[derive(Debug, Clone)]
pub struct DescribedAs {
    /// The table described.
    pub table: crate::catalog::TableRef,
    /// `SELECT * REPLACE (<mask> AS col, …) FROM <table>` (no filter: a filtered table keeps
    /// its columns), each mask instantiated for the caller; a claim the token lacks is `''`
    /// here (the type of the mask) and its column is in `nullable`.
    pub query: Statement,
    /// The masked columns.
    pub masked: Vec<String>,
    /// The masked columns whose mask yields NULL for this caller (a claim it lacks).
    pub nullable: Vec<String>,
}

impl RewrittenStatement {
    /// The one constructor: `rewrite::rewrite`, once the canonical statement was checked against
    /// the accesses the warrant's decisions granted.
    /// `flink` is, for a Flink-only statement, its text (rewritten), its text as resolved
    /// and its embedded statements (rewritten).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        statement: Statement,
        sql: String,
        text: SqlText,
        flink: Option<(String, String, Vec<Statement>)>,
        kind: &'static str,
        accesses: Vec<Access>,
        decisions: Vec<Decision>,
        warrant: Warrant,
    ) -> Self {
        let (flink_sql, ddl, embedded) = match flink {
            Some((sql, resolved, embedded)) => {
                // Flink-only table DDL is handed to the engine as data, parsed here once from
                // the text as resolved (the rewritten one may hold the embedded engine's
                // `* REPLACE`, which Flink's grammar lacks); a CTAS then gets its rewritten
                // query.
                let mut ddl = FlinkDdl::of(kind, &resolved);
                if let Some(FlinkDdl::Create(create)) = &mut ddl
                    && let Statement::CreateTable(ct) = &mut create.statement
                    && ct.query.is_some()
                    && let [Statement::Query(q)] = embedded.as_slice()
                {
                    ct.query = Some(q.clone());
                }
                (Some(sql), ddl, embedded)
            }
            None => (None, None, Vec::new()),
        };
        let sql = flink_sql.clone().unwrap_or(sql);
        Self {
            statement,
            sql,
            flink_sql,
            embedded,
            text,
            ddl,
            kind,
            accesses,
            decisions,
            warrant,
            applied: Vec::new(),
            claims: Claims::new(),
            described_as: None,
            reads: None,
            views: ViewUse::default(),
        }
    }

    /// What resolution found the statement does with views.
    pub(super) fn with_views(mut self, views: ViewUse) -> Self {
        self.views = views;
        self
    }

    /// What the statement does with views: the views it read (already expanded into the
    /// statement) and, for CREATE VIEW, the definition the gateway stores.
    pub fn views(&self) -> &ViewUse {
        &self.views
    }

    /// The claims it was rewritten with, and the masked projection of a DESCRIBE.
    pub(super) fn with_caller(mut self, claims: Claims, described_as: Option<DescribedAs>) -> Self {
        self.claims = claims;
        self.described_as = described_as;
        self
    }

    /// The claims of the caller's token it was rewritten with.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// For a DESCRIBE of a table the caller reads through column masks: the masked
    /// projection whose types the engine reports (see [`DescribedAs`]).
    pub fn described_as(&self) -> Option<&DescribedAs> {
        self.described_as.as_ref()
    }

    /// The row filters and column masks `rewrite::rewrite` enforced in the statement.
    pub(super) fn with_data_policies(
        mut self,
        applied: Vec<AppliedPolicies>,
        reads: ReadPolicies,
    ) -> Self {
        self.applied = applied;
        self.reads = Some(reads);
        self
    }

    /// The tables it reads and the filters and masks that applied to each when it was
    /// decided: what a policy change is compared with while it runs.
    pub fn read_policies(&self) -> Option<&ReadPolicies> {
        self.reads.as_ref()
    }

    /// The row filters and column masks applied, per table (empty when none applies).
    pub fn data_policies(&self) -> &[AppliedPolicies] {
        &self.applied
    }

    /// The canonical statement: every table reference is `` `catalog`.`database`.`table` ``;
    /// CTE names and aliases are as written.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Whether the statement is Flink-only: [`Self::statement`] is then a stand-in that an
    /// engine running sqlparser statements must refuse, and [`Self::sql`] is the statement.
    pub fn is_flink_only(&self) -> bool {
        self.flink_sql.is_some()
    }

    /// The canonical statement rendered as SQL (for a Flink-only statement, the client's text
    /// with every name canonical).
    pub fn sql(&self) -> String {
        self.sql.clone()
    }

    /// The sqlparser statements the engine's text is made of: the statement itself, or the
    /// embedded statements of a Flink-only one (rewritten, see [`Self::render`]).
    pub fn statements(&self) -> &[Statement] {
        match self.flink_sql {
            Some(_) => &self.embedded,
            None => std::slice::from_ref(&self.statement),
        }
    }

    /// The engine's text made from `statements` (a further rewrite of [`Self::statements`]:
    /// the Flink engine's expansion of `* REPLACE`), with the client's hints where they were
    /// placed, checked to parse back to them.
    pub fn render(&self, statements: &[Statement]) -> Result<String, crate::sql::ResolveError> {
        self.text.render(statements)
    }

    /// Flink's statement kind (see [`crate::sql::ResolvedStatement::sql_kind`]).
    pub fn sql_kind(&self) -> &'static str {
        self.kind
    }

    /// A Flink-only CREATE / ALTER TABLE as typed clauses (`DISTRIBUTED BY`, WITH options,
    /// columns), every name canonical: what an engine runs instead of parsing [`Self::sql`].
    pub fn ddl(&self) -> Option<&FlinkDdl> {
        self.ddl.as_ref()
    }

    /// The accesses that were authorized.
    pub fn accesses(&self) -> &[Access] {
        &self.accesses
    }

    /// The authorization decisions, one per access.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// For whom, where and under which policy version it was authorized: the engine derives
    /// what the caller may see from this, never from a principal passed beside it.
    pub fn warrant(&self) -> &Warrant {
        &self.warrant
    }
}
