//! Flink-only statements: the Flink SQL that sqlparser's AST cannot hold (CREATE TABLE with
//! watermarks, computed and metadata columns or `DISTRIBUTED BY`; ALTER TABLE; SHOW/DESCRIBE
//! forms; USE, SET, RESET; EXPLAIN with detail options; catalogs, databases and functions;
//! ANALYZE, TRUNCATE; `EXECUTE STATEMENT SET`).
//!
//! Such a statement is recognized by a grammar of our own (`flink/grammar.rs`) that runs
//! sqlparser's parser for every expression, data type, name and embedded query, and must consume
//! the whole text: what it does not know is a parse error, never a guess. Instead of an AST it
//! keeps the text and the *sites* in it that name something (each with what the statement does
//! to it) plus the embedded sqlparser statements (CTAS and view bodies, EXPLAINed queries, the
//! INSERTs of a statement set). Resolution binds every site and splices its canonical name (or
//! the embedded statement's canonical rendering) into the text, so what the engine receives is
//! the client's text with exactly the checked names in it. Expressions in DDL (computed columns,
//! watermarks) may not contain queries or table arguments, so no relation hides there.
//!
//! A query with `MATCH_RECOGNIZE … WITHIN <interval>` is Flink-only too, whatever statement
//! holds it (`within.rs`): sqlparser parses it without the clause, and the clause is put back
//! into the canonical text.
//!
//! `ADD JAR`, `CREATE FUNCTION … USING JAR`, `CREATE CATALOG`, `CREATE TABLE … LIKE`, table
//! options beyond sqlgate's own and `SET`/`RESET` keys outside the session allow-list are
//! recognized here and refused by name once the whole text has parsed (see `sql/guard.rs`).
//! `REMOVE JAR` names no table; the gateway checks it as `alter` on the session's catalog
//! (environment), a permission only administrators are meant to hold, so a FlinkDeveloper is
//! refused by authorization with `authz.denied`.
//!
//! Comments are cut from the canonical text (on token boundaries, so comment-like text in
//! strings and quoted names stays); hints are placed on the embedded statements and rendered
//! with them (see `sql/hints.rs`), or refused.

mod grammar;
pub(super) mod within;

#[cfg(test)]
mod tests;

use std::ops::Range;

use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Statement, Value};

pub(super) use grammar::parse;

use super::hints::Placed;
use super::render::{Piece, SqlText};
use super::resolve::{Names, bind_statement, parts};
use super::{Access, Action, ResolveError};
use crate::catalog::{ObjectRef, TableRef};

/// A recognized Flink-only statement (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct FlinkStatement {
    kind: &'static str,
    text: String,
    sites: Vec<Site>,
    /// `MATCH_RECOGNIZE … WITHIN` clauses taken out before parsing, put back after rendering.
    within: Vec<within::Within>,
    /// Byte ranges of the comments in the text: cut from the canonical text, so no client
    /// comment reaches the engine (those inside an embedded statement go with its rendering).
    comments: Vec<Range<usize>>,
}

/// One place in the text that resolution must account for.
#[derive(Debug, Clone)]
enum Site {
    /// A written name (byte range in the text) and what it names.
    Name {
        range: Range<usize>,
        name: ObjectName,
        target: Target,
    },
    /// A statement sqlparser parsed (query, INSERT), replaced by its canonical rendering.
    Statement {
        range: Range<usize>,
        statement: Box<Statement>,
    },
    /// No name written where the statement acts on the session's database or catalog:
    /// ` FROM <canonical>` is inserted at the byte offset so the engine does not fall back on a
    /// default of its own.
    SessionScope { at: usize, scope: Scope },
    /// An access with nothing to rewrite.
    Implicit(Scope),
}

/// What a written name is and what is done to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A 1- to 3-part table (or view) name; each action is recorded.
    Table(&'static [Action]),
    /// An existing 1- or 2-part database name.
    Database(Action),
    /// CREATE DATABASE: a database in a known catalog, by id, display name or (new) verbatim.
    NewDatabase,
    /// An existing catalog.
    Catalog(Action),
    /// CREATE CATALOG: a catalog by id, display name or (new) verbatim; creating one is an
    /// action on the organization's child of that name.
    NewCatalog,
    /// A 1- to 3-part function name: the action is checked on the function's database (the
    /// resource model has no function objects).
    Function(Action),
}

/// The session's database or catalog, acted on implicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Organization(Action),
    Database(Action),
    Catalog(Action),
}

/// A Flink-only statement with every site bound.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedFlink {
    pub(super) kind: &'static str,
    pub(super) accesses: Vec<Access>,
    /// The text with every site replaced by its canonical form.
    pub(crate) canonical_text: String,
    /// The canonical embedded statements (re-checked by `rewrite`).
    pub(crate) statements: Vec<Statement>,
    /// The objects whose canonical names were spliced in (re-checked by `rewrite`).
    pub(crate) objects: Vec<ObjectRef>,
    /// How `canonical_text` is made from `statements` (made again once the rewrite has
    /// enforced row filters and column masks in them).
    pub(crate) text: SqlText,
}

impl FlinkStatement {
    /// Flink's statement kind (`CREATE_TABLE`, `ALTER_TABLE`, `SHOW_VIEWS`, …).
    #[cfg(test)]
    pub(super) fn kind(&self) -> &'static str {
        self.kind
    }

    /// The embedded sqlparser statements, in text order.
    pub(super) fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.sites.iter().filter_map(|s| match s {
            Site::Statement { statement, .. } => Some(&**statement),
            _ => None,
        })
    }

    /// What `ParsedStatement::statement` reports for a Flink-only statement: sqlparser's AST
    /// cannot hold it, so it is an `ASSERT false` that names the kind. An engine that runs
    /// sqlparser statements refuses it, and running it would fail harmlessly.
    pub(super) fn stand_in(&self) -> Statement {
        Statement::Assert {
            condition: Expr::Value(Value::Boolean(false).into()),
            message: Some(Expr::Value(
                Value::SingleQuotedString(format!(
                    "Flink statement {} has no sqlparser form",
                    self.kind
                ))
                .into(),
            )),
        }
    }
}

/// Binds every site of `statement` (see the module doc).
pub(super) fn resolve(
    statement: FlinkStatement,
    names: &Names<'_>,
    hints: &[Placed],
) -> Result<ResolvedFlink, ResolveError> {
    let FlinkStatement {
        kind,
        text,
        sites,
        within,
        comments,
    } = statement;
    let mut accesses = Vec::new();
    let mut edits: Vec<(Range<usize>, Piece)> = Vec::new();
    let mut statements = Vec::new();
    let mut objects = Vec::new();
    let quotes = super::render::may_hold_quotes(&text);
    for site in sites {
        match site {
            Site::Name {
                range,
                name,
                target,
            } => {
                let (object, actions, canonical) = bind_name(&name, target, names)?;
                for action in actions {
                    accesses.push(Access {
                        object: object.clone(),
                        action: *action,
                    });
                }
                objects.push(object);
                edits.push((range, Piece::Text(canonical)));
            }
            Site::Statement {
                range,
                mut statement,
            } => {
                let index = statements.len();
                super::hints::pin(&mut statement, index, hints);
                let (_, inner) = bind_statement(&mut statement, names)?;
                // The gateway answers INFORMATION_SCHEMA only in statements it evaluates
                // itself; a Flink-only form would carry the views to an engine.
                if crate::infoschema::views_of(&statement).is_some() {
                    return Err(ResolveError::InfoSchemaUnsupported(
                        "a Flink-only statement form cannot read it".into(),
                    ));
                }
                accesses.extend(inner);
                edits.push((range, Piece::Statement(index)));
                statements.push(*statement);
            }
            Site::SessionScope { at, scope } => {
                let access = bind_scope(scope, names)?;
                edits.push((
                    at..at,
                    Piece::Text(format!(" FROM {}", render(&access.object))),
                ));
                objects.push(access.object.clone());
                accesses.push(access);
            }
            Site::Implicit(scope) => accesses.push(bind_scope(scope, names)?),
        }
    }
    edits.sort_by_key(|(r, _)| r.start);
    // A comment is cut unless it lies in a range that is replaced anyway.
    let mut cuts: Vec<(Range<usize>, Piece)> = comments
        .into_iter()
        .filter(|c| {
            !edits
                .iter()
                .any(|(r, _)| r.start < c.end && c.start < r.end)
        })
        .map(|c| {
            // One space is left where the comment separated two tokens, none more.
            let (range, with) = if text[..c.start].ends_with(char::is_whitespace) {
                let rest = &text[c.end..];
                let blank = rest.len() - rest.trim_start().len();
                (c.start..c.end + blank, "")
            } else if text[c.end..].starts_with(char::is_whitespace) {
                (c, "")
            } else {
                (c, " ")
            };
            (range, Piece::Text(with.to_string()))
        })
        .collect();
    edits.append(&mut cuts);
    // An insertion at a comment's start goes before the cut.
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    let mut pieces = Vec::with_capacity(2 * edits.len() + 1);
    let mut pos = 0;
    for (range, replacement) in edits {
        pieces.push(Piece::Text(text[pos..range.start].to_string()));
        pieces.push(replacement);
        pos = range.end;
    }
    pieces.push(Piece::Text(text[pos..].to_string()));
    let sql_text = SqlText::flink(pieces, within, hints.to_vec(), quotes);
    let canonical_text = sql_text.render(&statements)?;
    Ok(ResolvedFlink {
        kind,
        accesses,
        canonical_text,
        statements,
        objects,
        text: sql_text,
    })
}

/// The canonical, backtick-quoted rendering of an object.
pub(super) fn render(object: &ObjectRef) -> String {
    let q = super::render::ident;
    match object {
        ObjectRef::Organization => String::new(),
        ObjectRef::Catalog(c) => q(c),
        ObjectRef::Database(c, d) => format!("{}.{}", q(c), q(d)),
        ObjectRef::Table(t) => format!("{}.{}.{}", q(&t.catalog), q(&t.database), q(&t.table)),
    }
}

fn bind_scope(scope: Scope, names: &Names<'_>) -> Result<Access, ResolveError> {
    Ok(match scope {
        Scope::Organization(action) => Access {
            object: ObjectRef::Organization,
            action,
        },
        Scope::Database(action) => {
            let (c, d) = names.database_ref(None)?;
            Access {
                object: ObjectRef::Database(c, d),
                action,
            }
        }
        Scope::Catalog(action) => Access {
            object: ObjectRef::Catalog(names.catalog_ref(None)?),
            action,
        },
    })
}

/// The object a written name binds to, the actions on it, and the canonical text to splice.
fn bind_name(
    name: &ObjectName,
    target: Target,
    names: &Names<'_>,
) -> Result<(ObjectRef, &'static [Action], String), ResolveError> {
    const CREATE: &[Action] = &[Action::Create];
    let (object, actions) = match target {
        Target::Table(actions) => (ObjectRef::Table(names.table(name)?), actions),
        Target::Database(action) => {
            let (c, d) = names.database_ref(Some(name))?;
            (ObjectRef::Database(c, d), one(action))
        }
        Target::Catalog(action) => (
            ObjectRef::Catalog(names.catalog_ref(Some(name))?),
            one(action),
        ),
        Target::NewDatabase => {
            let (c, d) = match parts(name)?.as_slice() {
                [d] => (names.session_catalog(name)?, d.to_string()),
                [c, d] => (names.catalog(c)?, d.to_string()),
                _ => return Err(ResolveError::TooManyNameParts(name.to_string())),
            };
            // An existing database the caller may not know of is named as written, as a new
            // one would be.
            let d = names.known_database(&c, &d).unwrap_or(d);
            (ObjectRef::Database(c, d), CREATE)
        }
        Target::NewCatalog => match parts(name)?.as_slice() {
            [c] => {
                let c = names.known_catalog(c).unwrap_or_else(|| c.to_string());
                (ObjectRef::Catalog(c), CREATE)
            }
            _ => return Err(ResolveError::TooManyNameParts(name.to_string())),
        },
        Target::Function(action) => {
            // A function is named like a table; the database is what the action is checked on.
            let f = names.table(name)?;
            let canonical = render(&ObjectRef::Table(f.clone()));
            let TableRef {
                catalog, database, ..
            } = f;
            return Ok((
                ObjectRef::Database(catalog, database),
                one(action),
                canonical,
            ));
        }
    };
    let canonical = render(&object);
    Ok((object, actions, canonical))
}

fn one(action: Action) -> &'static [Action] {
    match action {
        Action::Read => &[Action::Read],
        Action::Write => &[Action::Write],
        Action::Create => &[Action::Create],
        Action::Alter => &[Action::Alter],
        Action::Drop => &[Action::Drop],
        Action::Describe => &[Action::Describe],
        Action::List => &[Action::List],
    }
}
