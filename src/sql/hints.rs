//! Flink SQL hints, `/*+ NAME(args) [, …] */`: recognized on the tokens, placed on the
//! statement, checked, and rendered back in canonical form.
//!
//! sqlparser reads a hint as a comment, and comments never reach the engine (the engine gets
//! the statement rendered from its syntax tree). A hint is therefore handled here, or refused:
//!
//! * **Where.** Flink reads a *query hint* right after `SELECT` and a *table hint* right after
//!   a table's name (before its alias, `FOR SYSTEM_TIME AS OF` or anything else). A hint is
//!   placed by the token just before it: the `SELECT` keyword of a query block, or the last
//!   part of the name of a table in `FROM`/`JOIN`. A hint anywhere else (after an alias, in
//!   DDL, after the target of an INSERT, …) is refused, never dropped or passed on as text.
//! * **What.** Table hints: only `OPTIONS('key' = 'value', …)` (dynamic table options), and
//!   only with keys of [`READ_OPTIONS`], harmless options that choose *where in the same
//!   topic* a read starts and stops. Everything that could change which data is read
//!   (`topic`, `topic-pattern`, `properties.*`, `connector`, formats and their fields, …) is
//!   refused by name. Query hints: the join hints `BROADCAST`, `SHUFFLE_HASH`,
//!   `SHUFFLE_MERGE` and `NEST_LOOP`, `LOOKUP(…)` and `STATE_TTL(…)`; each table they name
//!   must be a table (by its name as written, or its alias) of that query block's `FROM`.
//!   Any other hint is refused by name.
//! * **How it reaches the engine.** The hint is parsed into [`Hint`] and rendered by
//!   [`Hint`]'s `Display` (names backtick-quoted, values single-quoted), so only what was
//!   checked reaches the engine. A placed hint is found by the position of its query block
//!   or table among those of its parsed statement (the syntax tree's visiting order), and
//!   pinned to that node by a tag span before resolution ([`pin`]), so that it stays with its
//!   node whatever resolution and the rewrite do to the tree around it (views expanded, reads
//!   under row filters and column masks moved into derived tables and CTEs). It is written
//!   into a copy of the final tree when that is rendered ([`render`]): query hints as
//!   sqlparser's `optimizer_hints` of the `SELECT`, table hints between the table's name and
//!   its alias. A hint whose node is gone (on a view's name) is refused.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, OptimizerHint, OptimizerHintStyle, Select, Statement,
    TableAlias, TableFactor, TableObject, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::tokenizer::{
    Location, Span, Token, TokenWithSpan, Tokenizer, Whitespace,
};

use super::{FlinkDialect, ResolveError, SqlError};

/// Dynamic table options (`/*+ OPTIONS(…) */`) a read may set: each only moves where in the
/// table's own topic reading starts or stops, with the connector, topic, formats and client
/// properties sqlgate declared left as they are.
pub const READ_OPTIONS: &[&str] = &[
    "scan.startup.mode",
    "scan.startup.timestamp-millis",
    "scan.startup.specific-offsets",
    "scan.bounded.mode",
    "scan.bounded.timestamp-millis",
    "scan.bounded.specific-offsets",
];

/// Join hints: their arguments are tables of the query block.
const JOIN_HINTS: &[&str] = &["BROADCAST", "SHUFFLE_HASH", "SHUFFLE_MERGE", "NEST_LOOP"];

/// The options of `LOOKUP(…)` (Flink's lookup join hint); `'table'` names the lookup table.
const LOOKUP_OPTIONS: &[&str] = &[
    "table",
    "async",
    "output-mode",
    "capacity",
    "timeout",
    "retry-predicate",
    "retry-strategy",
    "fixed-delay",
    "max-attempts",
];

/// One hint as written, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    /// Upper-case name (`OPTIONS`, `BROADCAST`, …).
    name: String,
    args: Args,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Args {
    /// `NAME` alone.
    None,
    /// `NAME(a, b)`: identifiers (table names or aliases).
    List(Vec<String>),
    /// `NAME('k' = 'v', …)`.
    Pairs(Vec<(String, String)>),
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        match &self.args {
            Args::None => Ok(()),
            Args::List(names) => {
                let names: Vec<String> = names.iter().map(|n| super::render::ident(n)).collect();
                write!(f, "({})", names.join(", "))
            }
            Args::Pairs(pairs) => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
                    .collect();
                write!(f, "({})", pairs.join(", "))
            }
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A hint comment as written: its hints and where it stands.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    hints: Vec<Hint>,
    /// Where the comment starts (for messages).
    at: Location,
    /// Where the significant token before it ends (`None` at the start of the text).
    after: Option<Location>,
}

/// Where a placed hint goes in its statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Anchor {
    /// After `SELECT` of the n-th query block (visiting order).
    Select(usize),
    /// After the name of the n-th table of `FROM`/`JOIN` (visiting order).
    Table(usize),
}

/// A checked hint comment and its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placed {
    /// Which of the parsed statement's sqlparser statements (see
    /// `ParsedStatement::statements`).
    statement: usize,
    anchor: Anchor,
    hints: Vec<Hint>,
}

/// The hint comments of a statement's tokens, parsed (refused if malformed). The tokens
/// inside hints count towards `max_tokens` with the statement's own.
pub(super) fn written(
    tokens: &[TokenWithSpan],
    max_tokens: usize,
) -> Result<Vec<Written>, SqlError> {
    let mut out = Vec::new();
    let mut after = None;
    let mut budget = max_tokens.saturating_sub(tokens.len());
    for t in tokens {
        match &t.token {
            Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with('+') => {
                out.push(Written {
                    hints: parse_hints(&c[1..], t.span.start, max_tokens, &mut budget)?,
                    at: t.span.start,
                    after,
                });
            }
            Token::Whitespace(_) | Token::EOF => {}
            _ => after = Some(t.span.end),
        }
    }
    Ok(out)
}

/// Places every hint comment on one of `statements` and checks it (see the module doc).
pub(super) fn place<'a>(
    written: Vec<Written>,
    statements: impl Iterator<Item = &'a Statement>,
) -> Result<Vec<Placed>, SqlError> {
    if written.is_empty() {
        return Ok(Vec::new());
    }
    // Looked up by location: a statement within the bounds may hold tens of thousands of
    // query blocks, tables and hints.
    let mut anchors: HashMap<(u64, u64), Found> = HashMap::new();
    for (n, statement) in statements.enumerate() {
        let mut finder = Anchors {
            statement: n,
            selects: 0,
            tables: 0,
            found: Vec::new(),
        };
        let _ = statement.visit(&mut finder);
        anchors.extend(
            finder
                .found
                .into_iter()
                .map(|f| ((f.end.line, f.end.column), f)),
        );
    }
    let mut placed: Vec<Placed> = Vec::new();
    let mut taken: HashSet<(usize, Anchor)> = HashSet::new();
    for w in written {
        let found = w
            .after
            .and_then(|after| anchors.get(&(after.line, after.column)));
        let Some(a) = found else {
            return Err(unplaced(&w));
        };
        let anchor = match &a.kind {
            Place::Select { tables } => {
                for h in &w.hints {
                    check_query_hint(h, tables)?;
                }
                Anchor::Select(a.ordinal)
            }
            Place::Table => {
                for h in &w.hints {
                    check_table_hint(h)?;
                }
                Anchor::Table(a.ordinal)
            }
            Place::Target => {
                for h in &w.hints {
                    check_target_hint(h)?;
                }
                // No hint is allowed on a written table, so nothing is ever placed here.
                return Err(unplaced(&w));
            }
        };
        if !taken.insert((a.statement, anchor)) {
            return Err(SqlError::HintNotAllowed {
                hint: w.hints.first().map(|h| h.name.clone()).unwrap_or_default(),
                reason: format!(
                    "a second hint comment at line {}, column {}: Flink takes one /*+ … */ per \
                     place; list the hints in one comment, separated by commas",
                    w.at.line, w.at.column
                ),
            });
        }
        placed.push(Placed {
            statement: a.statement,
            anchor,
            hints: w.hints,
        });
    }
    placed.sort_by_key(|p| p.statement);
    Ok(placed)
}

/// The placed hints of the `index`-th statement, with their positions in `placed` (sorted by
/// statement, see [`place`]).
fn of_statement(placed: &[Placed], index: usize) -> impl Iterator<Item = (usize, &Placed)> {
    let from = placed.partition_point(|p| p.statement < index);
    let to = placed.partition_point(|p| p.statement <= index);
    placed[from..to]
        .iter()
        .enumerate()
        .map(move |(i, p)| (from + i, p))
}

/// Pins the hints of the `index`-th parsed statement to the nodes they are placed on, before
/// resolution and the rewrite change the tree (views expanded, reads of tables under row
/// filters or column masks moved into derived tables and CTEs, query blocks added): the
/// `SELECT` keyword of a query block, or the last part of a table's name, gets a tag span
/// naming the hint (a line no text has). Spans are ignored by sqlparser's equality and
/// rendering, so the tags change nothing else; [`render`] writes each hint where its tag is.
pub(crate) fn pin(statement: &mut Statement, index: usize, placed: &[Placed]) {
    let wanted: HashMap<Anchor, usize> = of_statement(placed, index)
        .map(|(id, p)| (p.anchor, id))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let _ = VisitMut::visit(
        statement,
        &mut Pinner {
            wanted,
            selects: 0,
            tables: 0,
        },
    );
}

/// Carries the pin of a table's name (if any) to the name that replaces it in the rewrite,
/// where the same read of the same table moves (a CTE's scan).
pub(crate) fn carry_pin(from: &ObjectName, to: &mut ObjectName) {
    if let Some(span) = last_ident(from)
        .map(|i| i.span)
        .filter(|s| tag_of(*s).is_some())
        && let Some(ObjectNamePart::Identifier(i)) = to.0.last_mut()
    {
        i.span = span;
    }
}

/// The line of a tag span (see [`pin`]): no statement text has this many lines.
const TAG_LINE: u64 = u64::MAX;

fn tag(id: usize) -> Span {
    let at = Location::new(TAG_LINE, id as u64);
    Span::new(at, at)
}

fn tag_of(span: Span) -> Option<usize> {
    (span.start.line == TAG_LINE).then_some(span.start.column as usize)
}

fn last_ident(name: &ObjectName) -> Option<&Ident> {
    name.0.last().and_then(|p| p.as_ident())
}

/// Renders `statement` (the `index`-th of its parsed statement, canonical and pinned by
/// [`pin`]) with its placed hints, each where its tag is; without hints this is sqlparser's
/// rendering. A hint whose node is gone (a view's name, replaced by the view's body) is
/// refused, never dropped.
pub(crate) fn render(
    statement: &Statement,
    index: usize,
    placed: &[Placed],
) -> Result<String, ResolveError> {
    let texts: HashMap<usize, (Anchor, String)> = of_statement(placed, index)
        .map(|(id, p)| {
            let hints: Vec<String> = p.hints.iter().map(Hint::to_string).collect();
            (id, (p.anchor, hints.join(", ")))
        })
        .collect();
    if texts.is_empty() {
        return Ok(statement.to_string());
    }
    let mut copy = statement.clone();
    let mut writer = Writer { texts };
    let _ = VisitMut::visit(&mut copy, &mut writer);
    if let Some(id) = writer.texts.keys().min() {
        let hint = placed[*id].hints.first().map(|h| h.name.clone());
        return Err(ResolveError::HintUnplaced(hint.unwrap_or_default()));
    }
    Ok(copy.to_string())
}

fn unplaced(w: &Written) -> SqlError {
    let names: Vec<&str> = w.hints.iter().map(|h| h.name.as_str()).collect();
    SqlError::HintNotAllowed {
        hint: names.join(", "),
        reason: format!(
            "the hint comment at line {}, column {} is not where Flink reads hints (right after \
             SELECT for a query hint, right after a table's name in FROM or JOIN for OPTIONS); \
             the gateway does not pass it on",
            w.at.line, w.at.column
        ),
    }
}

fn check_table_hint(h: &Hint) -> Result<(), SqlError> {
    if h.name != "OPTIONS" {
        return Err(SqlError::HintNotAllowed {
            hint: h.name.clone(),
            reason: if is_query_hint(&h.name) {
                "it is a query hint: write it right after SELECT".into()
            } else {
                "only OPTIONS is allowed right after a table name".into()
            },
        });
    }
    let Args::Pairs(pairs) = &h.args else {
        return Err(malformed(h, "OPTIONS takes 'key' = 'value' pairs"));
    };
    for (key, value) in pairs {
        let plain = |c: char| c.is_ascii_alphanumeric() || "_.,:;-".contains(c);
        if READ_OPTIONS.contains(&key.as_str()) && !value.chars().all(plain) {
            return Err(SqlError::OptionNotAllowed {
                option: key.clone(),
                context: "dynamic table option (/*+ OPTIONS(…) */)",
                reason: "the values of read options are modes, timestamps and offsets: \
                         letters, digits and . , : ; _ -"
                    .into(),
            });
        }
        if !READ_OPTIONS.contains(&key.as_str()) {
            return Err(SqlError::OptionNotAllowed {
                option: key.clone(),
                context: "dynamic table option (/*+ OPTIONS(…) */)",
                reason: format!(
                    "a hint may only choose where a read starts or stops ({}); the table's \
                     connector, topic, formats and client properties are the gateway's",
                    READ_OPTIONS.join(", ")
                ),
            });
        }
    }
    Ok(())
}

fn check_target_hint(h: &Hint) -> Result<(), SqlError> {
    match (&*h.name, &h.args) {
        ("OPTIONS", Args::Pairs(pairs)) if !pairs.is_empty() => Err(SqlError::OptionNotAllowed {
            option: pairs[0].0.clone(),
            context: "dynamic table option (/*+ OPTIONS(…) */) on a table written to",
            reason: "the options of a table written to are the gateway's".into(),
        }),
        _ => Err(SqlError::HintNotAllowed {
            hint: h.name.clone(),
            reason: "no hint is allowed on the table an INSERT writes to".into(),
        }),
    }
}

fn is_query_hint(name: &str) -> bool {
    JOIN_HINTS.contains(&name) || name == "LOOKUP" || name == "STATE_TTL"
}

/// `tables`: the names (as written) and aliases of the query block's FROM.
fn check_query_hint(h: &Hint, tables: &HashSet<String>) -> Result<(), SqlError> {
    let names_table = |t: &str| -> Result<(), SqlError> {
        if tables.contains(t) {
            Ok(())
        } else {
            Err(SqlError::HintNotAllowed {
                hint: h.name.clone(),
                reason: format!(
                    "it names `{t}`, which is neither a table nor an alias in this query's FROM"
                ),
            })
        }
    };
    let name = h.name.as_str();
    if JOIN_HINTS.contains(&name) {
        let Args::List(list) = &h.args else {
            return Err(malformed(h, "a join hint lists the tables it applies to"));
        };
        return list.iter().try_for_each(|t| names_table(t));
    }
    match name {
        "LOOKUP" => {
            let Args::Pairs(pairs) = &h.args else {
                return Err(malformed(h, "LOOKUP takes 'key' = 'value' pairs"));
            };
            if !pairs.iter().any(|(k, _)| k == "table") {
                return Err(malformed(h, "LOOKUP needs 'table' = '<table or alias>'"));
            }
            for (k, v) in pairs {
                if !LOOKUP_OPTIONS.contains(&k.as_str()) {
                    return Err(SqlError::OptionNotAllowed {
                        option: k.clone(),
                        context: "LOOKUP hint option",
                        reason: format!("LOOKUP takes {}", LOOKUP_OPTIONS.join(", ")),
                    });
                }
                if k == "table" {
                    names_table(v)?;
                }
            }
            Ok(())
        }
        "STATE_TTL" => {
            let Args::Pairs(pairs) = &h.args else {
                return Err(malformed(
                    h,
                    "STATE_TTL takes '<table or alias>' = '<ttl>' pairs",
                ));
            };
            pairs.iter().try_for_each(|(k, _)| names_table(k))
        }
        "OPTIONS" => Err(SqlError::HintNotAllowed {
            hint: h.name.clone(),
            reason: "it is a table hint: write it right after the table's name".into(),
        }),
        _ => Err(SqlError::HintNotAllowed {
            hint: h.name.clone(),
            reason: format!(
                "the gateway passes only the query hints {}, LOOKUP and STATE_TTL, and the \
                 table hint OPTIONS",
                JOIN_HINTS.join(", ")
            ),
        }),
    }
}

fn malformed(h: &Hint, what: &str) -> SqlError {
    SqlError::HintNotAllowed {
        hint: h.name.clone(),
        reason: format!("malformed: {what}"),
    }
}

/// Parses the text of one hint comment (after `/*+`): `hint [, hint]*` with
/// `hint := NAME [ '(' (option [, option]* | key = 'value' [, key = 'value']*) ')' ]`,
/// `option := identifier`, `key := identifier | 'string'`.
fn parse_hints(
    text: &str,
    at: Location,
    max_tokens: usize,
    budget: &mut usize,
) -> Result<Vec<Hint>, SqlError> {
    let bad = |what: String| SqlError::Parse {
        message: format!("malformed hint: {what}"),
        line: Some(at.line),
        column: Some(at.column),
    };
    let tokens = Tokenizer::new(&FlinkDialect, text)
        .tokenize()
        .map_err(|e| bad(e.message))?;
    match budget.checked_sub(tokens.len()) {
        Some(left) => *budget = left,
        None => {
            return Err(SqlError::TooComplex {
                bound: super::bounds::Bound::Tokens,
                found: max_tokens.saturating_add(1),
                limit: max_tokens,
                line: Some(at.line),
                column: Some(at.column),
            });
        }
    }
    let mut it = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .peekable();
    let mut hints = Vec::new();
    loop {
        let name = match it.next() {
            Some(Token::Word(w)) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            other => return Err(bad(format!("expected a hint name, found {}", show(other)))),
        };
        let args = if it.peek() == Some(&Token::LParen) {
            it.next();
            let mut list = Vec::new();
            let mut pairs = Vec::new();
            loop {
                let first = match it.next() {
                    Some(Token::Word(w)) => Key::Ident(w.value),
                    Some(Token::SingleQuotedString(s)) => Key::Str(s),
                    other => {
                        return Err(bad(format!(
                            "expected a hint option, found {}",
                            show(other)
                        )));
                    }
                };
                if it.peek() == Some(&Token::Eq) {
                    it.next();
                    let value = match it.next() {
                        Some(Token::SingleQuotedString(s)) => s,
                        other => {
                            return Err(bad(format!(
                                "expected a quoted value, found {}",
                                show(other)
                            )));
                        }
                    };
                    pairs.push((first.text(), value));
                } else {
                    match first {
                        Key::Ident(i) => list.push(i),
                        Key::Str(s) => {
                            return Err(bad(format!("expected = after '{s}'")));
                        }
                    }
                }
                match it.next() {
                    Some(Token::Comma) => {}
                    Some(Token::RParen) => break,
                    other => return Err(bad(format!("expected , or ), found {}", show(other)))),
                }
            }
            match (list.is_empty(), pairs.is_empty()) {
                (false, true) => Args::List(list),
                (true, false) => Args::Pairs(pairs),
                _ => return Err(bad(format!("{name} mixes names and 'key' = 'value' pairs"))),
            }
        } else {
            Args::None
        };
        hints.push(Hint { name, args });
        // Calcite, and so Flink, takes hints separated by a comma or by spaces alone
        // (`/*+ BROADCAST(t1) SHUFFLE_HASH(t1) */` in Flink's documentation).
        match it.peek() {
            None => return Ok(hints),
            Some(Token::Comma) => {
                it.next();
            }
            Some(Token::Word(_)) => {}
            Some(_) => {
                return Err(bad(format!(
                    "expected , between hints, found {}",
                    show(it.next())
                )));
            }
        }
    }
}

enum Key {
    Ident(String),
    Str(String),
}

impl Key {
    fn text(self) -> String {
        match self {
            Key::Ident(s) | Key::Str(s) => s,
        }
    }
}

fn show(t: Option<Token>) -> String {
    t.map_or_else(|| "the end of the hint".into(), |t| format!("`{t}`"))
}

// === places ===

enum Place {
    /// After `SELECT`; the names and aliases of the block's FROM.
    Select { tables: HashSet<String> },
    /// After a table's name in FROM/JOIN.
    Table,
    /// After the name of the table an INSERT writes.
    Target,
}

struct Found {
    statement: usize,
    ordinal: usize,
    /// Where the token a hint would follow ends.
    end: Location,
    kind: Place,
}

struct Anchors {
    statement: usize,
    selects: usize,
    tables: usize,
    found: Vec<Found>,
}

fn last_ident_end(name: &ObjectName) -> Option<Location> {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.span.end)
        .filter(|l| l.line > 0)
}

impl Visitor for Anchors {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        if let Statement::Insert(insert) = statement
            && let TableObject::TableName(name) = &insert.table
            && let Some(end) = last_ident_end(name)
        {
            self.found.push(Found {
                statement: self.statement,
                ordinal: 0,
                end,
                kind: Place::Target,
            });
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let end = select.select_token.0.span.end;
        if end.line > 0 {
            let mut tables = HashSet::new();
            for twj in &select.from {
                from_names(&twj.relation, &mut tables);
                for j in &twj.joins {
                    from_names(&j.relation, &mut tables);
                }
            }
            self.found.push(Found {
                statement: self.statement,
                ordinal: self.selects,
                end,
                kind: Place::Select { tables },
            });
        }
        self.selects += 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, args, .. } = factor {
            if args.is_none()
                && let Some(end) = last_ident_end(name)
            {
                self.found.push(Found {
                    statement: self.statement,
                    ordinal: self.tables,
                    end,
                    kind: Place::Table,
                });
            }
            self.tables += 1;
        }
        ControlFlow::Continue(())
    }
}

/// The names (last part, as written) and aliases a query hint may name, of one FROM item.
fn from_names(factor: &TableFactor, out: &mut HashSet<String>) {
    let alias = match factor {
        TableFactor::Table { name, alias, .. } => {
            if let Some(i) = name.0.last().and_then(|p| p.as_ident()) {
                out.insert(i.value.clone());
            }
            alias
        }
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            from_names(&table_with_joins.relation, out);
            for j in &table_with_joins.joins {
                from_names(&j.relation, out);
            }
            alias
        }
        TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::MatchRecognize { alias, .. } => alias,
        _ => &None,
    };
    if let Some(a) = alias {
        out.insert(a.name.value.clone());
    }
}

/// Tags the anchored nodes (see [`pin`]), counting query blocks and tables as [`Anchors`]
/// does.
struct Pinner {
    /// The position in `placed` of the hint of each anchor.
    wanted: HashMap<Anchor, usize>,
    selects: usize,
    tables: usize,
}

impl VisitorMut for Pinner {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let Some(id) = self.wanted.remove(&Anchor::Select(self.selects)) {
            select.select_token.0.span = tag(id);
        }
        self.selects += 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, .. } = factor {
            if let Some(id) = self.wanted.remove(&Anchor::Table(self.tables))
                && let Some(ObjectNamePart::Identifier(i)) = name.0.last_mut()
            {
                i.span = tag(id);
            }
            self.tables += 1;
        }
        ControlFlow::Continue(())
    }
}

/// Writes placed hints into a copy of the canonical tree where their tags are (see [`pin`]).
struct Writer {
    /// The anchor and rendered hints of each tag, removed once written.
    texts: HashMap<usize, (Anchor, String)>,
}

impl Writer {
    fn text(&mut self, span: Span, table: bool) -> Option<String> {
        let id = tag_of(span)?;
        match self.texts.get(&id) {
            Some((Anchor::Table(_), _)) if table => {}
            Some((Anchor::Select(_), _)) if !table => {}
            _ => return None,
        }
        self.texts.remove(&id).map(|(_, text)| text)
    }
}

impl VisitorMut for Writer {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let Some(text) = self.text(select.select_token.0.span, false) {
            select.optimizer_hints = vec![OptimizerHint {
                prefix: String::new(),
                text: format!(" {text} "),
                style: OptimizerHintStyle::MultiLine,
            }];
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor
            && let Some(span) = last_ident(name).map(|i| i.span)
            && let Some(text) = self.text(span, true)
        {
            // sqlparser writes the alias right after the name; Flink wants the hint first.
            // The alias slot then carries the hint and the alias as one unquoted word.
            let hint = format!("/*+ {text} */");
            let rendered = match alias.take() {
                Some(a) => format!("{hint} {a}"),
                None => hint,
            };
            *alias = Some(TableAlias {
                explicit: false,
                name: Ident::new(rendered),
                columns: Vec::new(),
                at: None,
            });
        }
        ControlFlow::Continue(())
    }
}
