//! The grammar of Flink-only statements (see `flink.rs`), written against Flink's documented
//! syntax. It drives sqlparser's parser for names, data types, expressions and queries and
//! records the sites resolution must bind; the whole text must be consumed.

mod ddl;
mod queries;

use std::cell::Cell;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Query, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Whitespace};

use super::{FlinkStatement, Scope, Site, Target};
use crate::sql::parse::{check_allowed, parser_error};
use crate::sql::resolve::table_argument;
use crate::sql::{Action, FlinkDialect, ParseLimits, SqlError, guard};

type R<T> = Result<T, ParserError>;

const READ: &[Action] = &[Action::Read];
const CREATE: &[Action] = &[Action::Create];
const CREATE_DROP: &[Action] = &[Action::Create, Action::Drop];
const ALTER: &[Action] = &[Action::Alter];
const DROP: &[Action] = &[Action::Drop];
const DESCRIBE: &[Action] = &[Action::Describe];
const READ_ALTER: &[Action] = &[Action::Read, Action::Alter];
const WRITE_DROP: &[Action] = &[Action::Write, Action::Drop];

/// Recognizes a Flink-only statement. `None` when the leading keywords start none of the forms
/// this grammar knows (the caller reports sqlparser's own error); otherwise the statement or
/// why it was refused.
pub(crate) fn parse(
    sql: &str,
    tokens: Vec<TokenWithSpan>,
    limits: &ParseLimits,
) -> Option<Result<FlinkStatement, SqlError>> {
    // Comments outside the embedded statements (which are rendered again) are cut from the
    // canonical text; hints are placed (or refused) on the embedded statements by `parse`.
    let comments: Vec<(Location, Location)> = tokens
        .iter()
        .filter(|t| {
            matches!(
                &t.token,
                Token::Whitespace(
                    Whitespace::MultiLineComment(_) | Whitespace::SingleLineComment { .. }
                )
            )
        })
        .map(|t| (t.span.start, t.span.end))
        .collect();
    let dialect = FlinkDialect;
    let parser = Parser::new(&dialect)
        .with_recursion_limit(limits.recursion_limit)
        .with_tokens_with_locations(tokens);
    let mut g = Grammar {
        p: parser,
        text: sql,
        line_starts: std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        last_offset: Cell::new((0, 0, 0)),
        sites: Vec::new(),
        refused: None,
    };
    let kind = match g.statement() {
        Ok(None) => return None,
        Ok(Some(kind)) => kind,
        Err(Refusal::Parse(e)) => return Some(Err(parser_error(e, sql, limits))),
        Err(Refusal::Unsupported(what)) => return Some(Err(SqlError::Unsupported(what))),
    };
    let end = g.end_of_statement();
    if let Err(e) = end {
        return Some(Err(parser_error(e, sql, limits)));
    }
    // Refusals by name come after the whole text parsed, so a syntax error is reported as one.
    if let Some(e) = g.refused {
        return Some(Err(e));
    }
    let comments = comments
        .into_iter()
        .map(|(start, end)| g.offset(start)..g.offset(end))
        .collect();
    for site in &g.sites {
        if let Site::Statement { statement, .. } = site
            && let Err(e) = check_allowed(statement)
        {
            return Some(Err(e));
        }
    }
    Some(Ok(FlinkStatement {
        kind,
        text: sql.to_string(),
        sites: g.sites,
        within: Vec::new(),
        comments,
    }))
}

enum Refusal {
    Parse(ParserError),
    Unsupported(String),
}

impl From<ParserError> for Refusal {
    fn from(e: ParserError) -> Self {
        Refusal::Parse(e)
    }
}

struct Grammar<'a> {
    p: Parser<'a>,
    text: &'a str,
    /// Byte offset of each line's start, to turn token locations into byte ranges.
    line_starts: Vec<usize>,
    /// The last location [`Grammar::offset`] computed: line, 0-based column, byte offset.
    last_offset: Cell<(u64, usize, usize)>,
    sites: Vec<Site>,
    /// The first refusal by name (see `sql/guard.rs`), reported once the text has parsed.
    refused: Option<SqlError>,
}

impl Grammar<'_> {
    /// Keeps the first refusal by name.
    fn refuse(&mut self, check: Result<(), SqlError>) {
        if let Err(e) = check {
            self.refused.get_or_insert(e);
        }
    }

    // === statements ===

    /// Dispatches on the leading keywords; `Ok(None)` for none this grammar knows.
    fn statement(&mut self) -> Result<Option<&'static str>, Refusal> {
        let kind = if self.word("CREATE") {
            let or_replace = self.words(&["OR", "REPLACE"]);
            let temporary = self.word("TEMPORARY");
            if self.word("TABLE") {
                self.create_table(or_replace)?
            } else if or_replace {
                return Err(self.expected("TABLE after CREATE OR REPLACE")?);
            } else if self.word("VIEW") {
                self.create_view()?
            } else if self.word("FUNCTION") {
                self.function_name_after_if(Action::Create, &["IF", "NOT", "EXISTS"])?;
                self.function_body()?;
                "CREATE_FUNCTION"
            } else if self.word("SYSTEM") {
                return Err(unsupported("CREATE TEMPORARY SYSTEM FUNCTION"));
            } else if temporary {
                return Err(self.expected("TABLE, VIEW or FUNCTION after CREATE TEMPORARY")?);
            } else if self.word("CATALOG") {
                self.words(&["IF", "NOT", "EXISTS"]);
                self.name(Target::NewCatalog)?;
                self.optional_comment()?;
                self.expect_word("WITH")?;
                self.options()?;
                self.refuse(Err(guard::refuse("CREATE CATALOG")));
                "CREATE_CATALOG"
            } else if self.word("DATABASE") {
                self.words(&["IF", "NOT", "EXISTS"]);
                self.name(Target::NewDatabase)?;
                self.optional_comment()?;
                if self.word("WITH") {
                    self.options()?;
                }
                "CREATE_DATABASE"
            } else {
                return Ok(None);
            }
        } else if self.words(&["REPLACE", "TABLE"]) {
            self.create_table(true)?
        } else if self.word("DROP") {
            return self.drop();
        } else if self.word("ALTER") {
            return self.alter();
        } else if self.word("SHOW") {
            return self.show();
        } else if self.word("DESCRIBE") || self.word("DESC") {
            self.word("EXTENDED");
            if self.word("CATALOG") {
                self.word("EXTENDED");
                self.name(Target::Catalog(Action::Describe))?;
                "DESCRIBE_CATALOG"
            } else {
                self.name(Target::Table(DESCRIBE))?;
                "DESCRIBE"
            }
        } else if self.word("USE") {
            if self.word("CATALOG") {
                self.name(Target::Catalog(Action::Describe))?;
                "USE_CATALOG"
            } else if self.word("MODULES") {
                return Err(unsupported("USE MODULES"));
            } else {
                self.name(Target::Database(Action::Describe))?;
                "USE"
            }
        } else if self.word("SET") {
            let mut key = None;
            if self.peek_string() {
                key = Some(self.p.parse_literal_string()?);
                self.p.expect_token(&Token::Eq)?;
                self.p.parse_literal_string()?;
            }
            self.refuse(guard::session_key("SET", key.as_deref()));
            "SET"
        } else if self.word("RESET") {
            let mut key = None;
            if self.peek_string() {
                key = Some(self.p.parse_literal_string()?);
            }
            self.refuse(guard::session_key("RESET", key.as_deref()));
            "RESET"
        } else if self.word("EXPLAIN") {
            self.explain()?
        } else if self.words(&["ANALYZE", "TABLE"]) {
            self.name(Target::Table(READ_ALTER))?;
            self.optional_partition_spec()?;
            self.expect_word("COMPUTE")?;
            self.expect_word("STATISTICS")?;
            if self.word("FOR") && !self.words(&["ALL", "COLUMNS"]) {
                {
                    self.expect_word("COLUMNS")?;
                    if self.p.consume_token(&Token::LParen) {
                        self.p.parse_comma_separated(Parser::parse_identifier)?;
                        self.p.expect_token(&Token::RParen)?;
                    } else {
                        self.p.parse_comma_separated(Parser::parse_identifier)?;
                    }
                }
            }
            "ANALYZE_TABLE"
        } else if self.words(&["TRUNCATE", "TABLE"]) {
            self.name(Target::Table(WRITE_DROP))?;
            "TRUNCATE_TABLE"
        } else if self.words(&["EXECUTE", "STATEMENT", "SET"]) {
            self.statement_set()?;
            "STATEMENT_SET"
        } else if self.words(&["ADD", "JAR"]) {
            self.jar()?;
            self.refuse(Err(guard::refuse("ADD JAR")));
            "ADD_JAR"
        } else if self.words(&["REMOVE", "JAR"]) {
            self.jar()?;
            "REMOVE_JAR"
        } else {
            return Ok(None);
        };
        Ok(Some(kind))
    }

    /// A name, recorded as a site. Only plain and backtick-quoted identifiers name things.
    fn name(&mut self, target: Target) -> Result<(), Refusal> {
        let start = self.start_offset();
        let name: ObjectName = self.p.parse_object_name(false)?;
        let range = start..self.end_offset();
        if let Some(i) = name
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .find(|i| !matches!(i.quote_style, None | Some('`')))
        {
            return Err(Refusal::Parse(ParserError::ParserError(format!(
                "a string literal cannot name an object: quote identifiers with backticks (`{}`)",
                i.value
            ))));
        }
        self.sites.push(Site::Name {
            range,
            name,
            target,
        });
        Ok(())
    }

    /// `[TEMPORARY] FUNCTION` was read: `[IF ..] name`.
    fn function_name_after_if(&mut self, action: Action, if_words: &[&str]) -> Result<(), Refusal> {
        self.words(if_words);
        self.name(Target::Function(action))
    }

    /// `AS 'class' [LANGUAGE JAVA|SCALA|PYTHON] [USING JAR 'path' [, JAR 'path']*]`.
    fn function_body(&mut self) -> Result<(), Refusal> {
        self.expect_word("AS")?;
        self.p.parse_literal_string()?;
        if self.word("LANGUAGE")
            && !(self.word("JAVA") || self.word("SCALA") || self.word("PYTHON"))
        {
            return Err(self.expected("JAVA, SCALA or PYTHON")?);
        }
        if self.word("USING") {
            loop {
                self.expect_word("JAR")?;
                self.p.parse_literal_string()?;
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
            self.refuse(Err(guard::refuse("CREATE FUNCTION ... USING JAR")));
        }
        Ok(())
    }

    /// Only `;` and trivia may follow.
    fn end_of_statement(&mut self) -> R<()> {
        while self.p.consume_token(&Token::SemiColon) {}
        match self.p.peek_token_ref().token {
            Token::EOF => Ok(()),
            _ => {
                let found = self.p.peek_token_ref().clone();
                self.p.expected("end of statement", found)
            }
        }
    }

    // === tokens ===

    fn peek_word(&self, w: &str) -> bool {
        matches!(&self.p.peek_token_ref().token, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
    }

    /// Consumes the keyword `w` if it is next.
    fn word(&mut self, w: &str) -> bool {
        let hit = self.peek_word(w);
        if hit {
            self.p.next_token();
        }
        hit
    }

    /// Consumes the keywords `ws` if all of them are next, else nothing.
    fn words(&mut self, ws: &[&str]) -> bool {
        let all = ws.iter().enumerate().all(|(n, w)| {
            matches!(&self.p.peek_nth_token_ref(n).token, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
        });
        if all {
            for _ in ws {
                self.p.next_token();
            }
        }
        all
    }

    fn expect_word(&mut self, w: &str) -> R<()> {
        if self.word(w) {
            Ok(())
        } else {
            let found = self.p.peek_token_ref().clone();
            self.p.expected(w, found)
        }
    }

    fn peek(&self, t: &Token) -> bool {
        self.p.peek_token_ref().token == *t
    }

    fn peek_string(&self) -> bool {
        matches!(self.p.peek_token_ref().token, Token::SingleQuotedString(_))
    }

    fn expected(&self, what: &str) -> R<Refusal> {
        let found = self.p.peek_token_ref().clone();
        self.p.expected(what, found)
    }

    /// The byte offset of `loc` (1-based line and column in characters). Locations are asked
    /// for in text order, so counting characters goes on from the last one when it is on the
    /// same line and not after `loc`: a statement on one line (up to 1 MiB) is then counted
    /// once in all, not once per site.
    fn offset(&self, loc: Location) -> usize {
        let Some(start) = (loc.line as usize)
            .checked_sub(1)
            .and_then(|l| self.line_starts.get(l))
        else {
            return self.text.len();
        };
        let col = (loc.column as usize).saturating_sub(1);
        let (from_col, from) = match self.last_offset.get() {
            (line, c, byte) if line == loc.line && c <= col => (c, byte),
            _ => (0, *start),
        };
        let rest = &self.text[from..];
        let byte = from
            + rest
                .char_indices()
                .nth(col - from_col)
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
        self.last_offset.set((loc.line, col, byte));
        byte
    }

    /// Where the next significant token starts.
    fn start_offset(&self) -> usize {
        self.offset(self.p.peek_token_ref().span.start)
    }

    /// Where the last consumed token ends.
    fn end_offset(&self) -> usize {
        self.offset(self.p.get_current_token().span.end)
    }
}

fn unsupported(what: &str) -> Refusal {
    Refusal::Unsupported(what.to_string())
}
