//! The grammar of Flink-only statements (see `flink.rs`), written against Flink's documented
//! syntax. It drives sqlparser's parser for names, data types, expressions and queries and
//! records the sites resolution must bind; the whole text must be consumed.

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

    /// `'path'` of `ADD JAR` / `REMOVE JAR`: loading or unloading code in the session is an
    /// administrator's change to the session's catalog (see `flink.rs`).
    fn jar(&mut self) -> R<()> {
        self.p.parse_literal_string()?;
        self.sites
            .push(Site::Implicit(Scope::Catalog(Action::Alter)));
        Ok(())
    }

    /// `CREATE [OR REPLACE] [TEMPORARY] TABLE` after `TABLE`, or `REPLACE TABLE`.
    fn create_table(&mut self, replace: bool) -> Result<&'static str, Refusal> {
        if !replace {
            self.words(&["IF", "NOT", "EXISTS"]);
        }
        self.name(Target::Table(if replace { CREATE_DROP } else { CREATE }))?;
        if self.p.consume_token(&Token::LParen) && !self.p.consume_token(&Token::RParen) {
            self.p
                .parse_comma_separated(|p| Reborrow(p).table_element(false))?;
            self.p.expect_token(&Token::RParen)?;
        }
        self.optional_comment()?;
        self.optional_distribution()?;
        if self.words(&["PARTITIONED", "BY"]) {
            self.paren_idents()?;
        }
        if self.word("WITH") {
            for (key, value) in self.options()? {
                self.refuse(guard::table_option(&key, Some(&value)));
            }
        }
        if self.word("LIKE") {
            self.name(Target::Table(READ))?;
            if self.p.consume_token(&Token::LParen) {
                while !self.p.consume_token(&Token::RParen) {
                    like_option(&mut self.p)?;
                }
            }
            self.refuse(Err(guard::refuse("CREATE TABLE ... LIKE")));
        }
        if self.word("AS") {
            self.query()?;
            return Ok(if replace {
                "REPLACE_TABLE_AS"
            } else {
                "CREATE_TABLE_AS"
            });
        }
        if replace {
            return Err(self.expected("AS <query> after REPLACE TABLE")?);
        }
        Ok("CREATE_TABLE")
    }

    /// `CREATE [TEMPORARY] VIEW` after `VIEW`.
    fn create_view(&mut self) -> Result<&'static str, Refusal> {
        self.words(&["IF", "NOT", "EXISTS"]);
        self.name(Target::Table(CREATE))?;
        if self.peek(&Token::LParen) {
            self.paren_idents()?;
        }
        self.optional_comment()?;
        self.expect_word("AS")?;
        self.query()?;
        Ok("CREATE_VIEW")
    }

    fn drop(&mut self) -> Result<Option<&'static str>, Refusal> {
        let temporary = self.word("TEMPORARY");
        if self.word("SYSTEM") {
            return Err(unsupported("DROP TEMPORARY SYSTEM FUNCTION"));
        }
        let kind = if self.word("TABLE") {
            self.words(&["IF", "EXISTS"]);
            self.name(Target::Table(DROP))?;
            "DROP_TABLE"
        } else if self.word("VIEW") {
            self.words(&["IF", "EXISTS"]);
            self.name(Target::Table(DROP))?;
            "DROP_VIEW"
        } else if self.word("FUNCTION") {
            self.function_name_after_if(Action::Drop, &["IF", "EXISTS"])?;
            "DROP_FUNCTION"
        } else if temporary {
            return Err(self.expected("TABLE, VIEW or FUNCTION after DROP TEMPORARY")?);
        } else if self.word("CATALOG") {
            self.words(&["IF", "EXISTS"]);
            self.name(Target::Catalog(Action::Drop))?;
            "DROP_CATALOG"
        } else if self.word("DATABASE") {
            self.words(&["IF", "EXISTS"]);
            self.name(Target::Database(Action::Drop))?;
            let _ = self.word("RESTRICT") || self.word("CASCADE");
            "DROP_DATABASE"
        } else {
            // Not a Flink object kind: sqlparser's own refusal stands.
            return Ok(None);
        };
        Ok(Some(kind))
    }

    fn alter(&mut self) -> Result<Option<&'static str>, Refusal> {
        if self.word("TABLE") {
            self.words(&["IF", "EXISTS"]);
            self.name(Target::Table(ALTER))?;
            self.alter_table()?;
            Ok(Some("ALTER_TABLE"))
        } else if self.word("VIEW") {
            self.name(Target::Table(ALTER))?;
            if self.words(&["RENAME", "TO"]) {
                self.name(Target::Table(CREATE))?;
            } else {
                self.expect_word("AS")?;
                self.query()?;
            }
            Ok(Some("ALTER_VIEW"))
        } else if self.word("DATABASE") {
            self.name(Target::Database(Action::Alter))?;
            self.expect_word("SET")?;
            self.options()?;
            Ok(Some("ALTER_DATABASE"))
        } else if self.word("CATALOG") {
            self.name(Target::Catalog(Action::Alter))?;
            if self.word("SET") {
                self.options()?;
            } else if self.word("RESET") {
                self.string_list()?;
            } else {
                self.expect_word("COMMENT")?;
                self.p.parse_literal_string()?;
            }
            Ok(Some("ALTER_CATALOG"))
        } else if self.word("TEMPORARY") || self.peek_word("FUNCTION") {
            self.expect_word("FUNCTION")?;
            self.function_name_after_if(Action::Alter, &["IF", "EXISTS"])?;
            self.function_body()?;
            Ok(Some("ALTER_FUNCTION"))
        } else {
            Ok(None)
        }
    }

    /// The action of `ALTER TABLE <name>`.
    fn alter_table(&mut self) -> Result<(), Refusal> {
        if self.word("SET") {
            for (key, value) in self.options()? {
                self.refuse(guard::table_option(&key, Some(&value)));
            }
        } else if self.word("RESET") {
            for key in self.string_list()? {
                self.refuse(guard::table_option(&key, None));
            }
        } else if self.word("RENAME") {
            if self.word("TO") {
                self.name(Target::Table(CREATE))?;
            } else {
                self.p.parse_identifier()?;
                self.expect_word("TO")?;
                self.p.parse_identifier()?;
            }
        } else if self.word("ADD") || self.word("MODIFY") {
            if self.word("DISTRIBUTION") {
                self.distribution_body()?;
            } else if self.p.consume_token(&Token::LParen) {
                self.p
                    .parse_comma_separated(|p| Reborrow(p).table_element(true))?;
                self.p.expect_token(&Token::RParen)?;
            } else {
                Reborrow(&mut self.p).table_element(true)?;
            }
        } else if self.word("DROP") {
            if self.words(&["PRIMARY", "KEY"])
                || self.word("WATERMARK")
                || self.word("DISTRIBUTION")
            {
            } else if self.word("CONSTRAINT") {
                self.p.parse_identifier()?;
            } else if self.peek(&Token::LParen) {
                self.paren_idents()?;
            } else {
                self.p.parse_identifier()?;
            }
        } else {
            return Err(self.expected("SET, RESET, RENAME, ADD, MODIFY or DROP after ALTER TABLE")?);
        }
        Ok(())
    }

    fn show(&mut self) -> Result<Option<&'static str>, Refusal> {
        let kind = if self.word("CATALOGS") {
            self.optional_like()?;
            self.sites
                .push(Site::Implicit(Scope::Organization(Action::List)));
            "SHOW_CATALOGS"
        } else if self.words(&["CURRENT", "CATALOG"]) {
            "SHOW_CURRENT_CATALOG"
        } else if self.words(&["CURRENT", "DATABASE"]) {
            "SHOW_CURRENT_DATABASE"
        } else if self.word("DATABASES") {
            if self.word("FROM") || self.word("IN") {
                self.name(Target::Catalog(Action::List))?;
            } else {
                let at = self.end_offset();
                self.sites.push(Site::SessionScope {
                    at,
                    scope: Scope::Catalog(Action::List),
                });
            }
            self.optional_like()?;
            "SHOW_DATABASES"
        } else if self.word("TABLES") {
            self.listing()?;
            "SHOW_TABLES"
        } else if self.word("VIEWS") {
            self.listing()?;
            "SHOW_VIEWS"
        } else if self.word("FUNCTIONS") || self.words(&["USER", "FUNCTIONS"]) {
            self.listing()?;
            "SHOW_FUNCTIONS"
        } else if self.word("PROCEDURES") {
            self.listing()?;
            "SHOW_PROCEDURES"
        } else if self.word("COLUMNS") {
            if !(self.word("FROM") || self.word("IN")) {
                return Err(self.expected("FROM or IN after SHOW COLUMNS")?);
            }
            self.name(Target::Table(DESCRIBE))?;
            self.optional_like()?;
            "SHOW_COLUMNS"
        } else if self.word("PARTITIONS") {
            self.name(Target::Table(DESCRIBE))?;
            self.optional_partition_spec()?;
            "SHOW_PARTITIONS"
        } else if self.word("CREATE") {
            if self.word("TABLE") {
                self.name(Target::Table(DESCRIBE))?;
                "SHOW_CREATE_TABLE"
            } else if self.word("VIEW") {
                self.name(Target::Table(DESCRIBE))?;
                "SHOW_CREATE_VIEW"
            } else if self.word("CATALOG") {
                self.name(Target::Catalog(Action::Describe))?;
                "SHOW_CREATE_CATALOG"
            } else {
                return Err(self.expected("TABLE, VIEW or CATALOG after SHOW CREATE")?);
            }
        } else if self.word("JOBS") {
            return Err(unsupported(
                "SHOW JOBS (it lists every principal's jobs and its output cannot be filtered)",
            ));
        } else if self.word("JARS") {
            "SHOW_JARS"
        } else if self.word("MODULES") || self.words(&["FULL", "MODULES"]) {
            "SHOW_MODULES"
        } else {
            return Ok(None);
        };
        Ok(Some(kind))
    }

    /// `[FROM|IN [catalog.]database] [[NOT] [I]LIKE 'pattern']` of SHOW TABLES / VIEWS /
    /// FUNCTIONS / PROCEDURES (Flink 1.18+). Without a database, an explicit canonical `FROM`
    /// is inserted, as for SHOW TABLES.
    fn listing(&mut self) -> Result<(), Refusal> {
        if self.word("FROM") || self.word("IN") {
            self.name(Target::Database(Action::List))?;
        } else {
            let at = self.end_offset();
            self.sites.push(Site::SessionScope {
                at,
                scope: Scope::Database(Action::List),
            });
        }
        self.optional_like()
    }

    /// `EXPLAIN [PLAN FOR | detail [, detail]*] (query | INSERT | STATEMENT SET BEGIN .. END)`.
    fn explain(&mut self) -> Result<&'static str, Refusal> {
        const DETAILS: &[&str] = &[
            "ESTIMATED_COST",
            "CHANGELOG_MODE",
            "JSON_EXECUTION_PLAN",
            "PLAN_ADVICE",
        ];
        if !self.words(&["PLAN", "FOR"]) {
            while DETAILS.iter().any(|d| self.peek_word(d)) {
                self.p.next_token();
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
        }
        if self.words(&["STATEMENT", "SET"]) {
            self.statement_set()?;
        } else if self.peek_word("INSERT") {
            self.insert()?;
        } else {
            self.query()?;
        }
        Ok("EXPLAIN")
    }

    /// `BEGIN INSERT ..; [INSERT ..;]* END` (after `STATEMENT SET`).
    fn statement_set(&mut self) -> Result<(), Refusal> {
        self.expect_word("BEGIN")?;
        loop {
            self.insert()?;
            self.p.expect_token(&Token::SemiColon)?;
            if self.word("END") {
                return Ok(());
            }
        }
    }

    // === pieces ===

    fn insert(&mut self) -> Result<(), Refusal> {
        if !self.peek_word("INSERT") {
            return Err(self.expected("INSERT")?);
        }
        let start = self.start_offset();
        let statement = self.p.parse_statement()?;
        let range = start..self.end_offset();
        if !matches!(statement, Statement::Insert(_)) {
            return Err(unsupported(
                "a statement other than INSERT in a statement set",
            ));
        }
        self.sites.push(Site::Statement {
            range,
            statement: Box::new(statement),
        });
        Ok(())
    }

    fn query(&mut self) -> Result<(), Refusal> {
        let start = self.start_offset();
        let query: Box<Query> = self.p.parse_query()?;
        let range = start..self.end_offset();
        self.sites.push(Site::Statement {
            range,
            statement: Box::new(Statement::Query(query)),
        });
        Ok(())
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

    fn optional_comment(&mut self) -> R<()> {
        if self.word("COMMENT") {
            self.p.parse_literal_string()?;
        }
        Ok(())
    }

    /// `DISTRIBUTED BY [HASH|RANGE] (cols) [INTO n BUCKETS]` or `DISTRIBUTED INTO n BUCKETS`.
    fn optional_distribution(&mut self) -> R<()> {
        if self.word("DISTRIBUTED") {
            self.distribution_body()?;
        }
        Ok(())
    }

    fn distribution_body(&mut self) -> R<()> {
        if self.word("BY") {
            let _ = self.word("HASH") || self.word("RANGE");
            self.paren_idents()?;
            if !self.word("INTO") {
                return Ok(());
            }
        } else {
            self.expect_word("INTO")?;
        }
        self.p.parse_literal_uint()?;
        self.expect_word("BUCKETS")
    }

    /// `('k' = 'v' [, ...])`: Flink's options are string literals on both sides. The value
    /// `'...'` is the documentation's placeholder, never a real option: refused, so a pasted
    /// template is not run.
    fn options(&mut self) -> R<Vec<(String, String)>> {
        self.p.expect_token(&Token::LParen)?;
        let options = self.p.parse_comma_separated(|p| {
            let key = p.parse_literal_string()?;
            p.expect_token(&Token::Eq)?;
            let value = p.parse_literal_string()?;
            if value.trim() == "..." {
                let at = p.get_current_token().clone();
                return p.expected("an option value, not the placeholder '...'", at);
            }
            Ok((key, value))
        })?;
        self.p.expect_token(&Token::RParen)?;
        Ok(options)
    }

    /// `('k' [, ...])`.
    fn string_list(&mut self) -> R<Vec<String>> {
        self.p.expect_token(&Token::LParen)?;
        let keys = self.p.parse_comma_separated(Parser::parse_literal_string)?;
        self.p.expect_token(&Token::RParen)?;
        Ok(keys)
    }

    fn paren_idents(&mut self) -> R<()> {
        self.p.expect_token(&Token::LParen)?;
        self.p.parse_comma_separated(Parser::parse_identifier)?;
        self.p.expect_token(&Token::RParen)?;
        Ok(())
    }

    /// `[NOT] (LIKE | ILIKE) 'pattern'`.
    fn optional_like(&mut self) -> Result<(), Refusal> {
        let not = self.word("NOT");
        if self.word("LIKE") || self.word("ILIKE") {
            self.p.parse_literal_string()?;
        } else if not {
            return Err(self.expected("LIKE or ILIKE after NOT")?);
        }
        Ok(())
    }

    /// `PARTITION (k [= literal] [, ...])`.
    fn optional_partition_spec(&mut self) -> R<()> {
        if self.word("PARTITION") {
            self.p.expect_token(&Token::LParen)?;
            self.p.parse_comma_separated(|p| {
                p.parse_identifier()?;
                if p.consume_token(&Token::Eq) {
                    let e = p.parse_expr()?;
                    if !matches!(e, Expr::Value(_)) {
                        return Err(ParserError::ParserError(format!(
                            "a partition value must be a literal, found {e}"
                        )));
                    }
                }
                Ok(())
            })?;
            self.p.expect_token(&Token::RParen)?;
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

/// The table-element grammar over a bare parser (for `parse_comma_separated` callbacks).
struct Reborrow<'p, 'a>(&'p mut Parser<'a>);

impl Reborrow<'_, '_> {
    fn word(&mut self, w: &str) -> bool {
        let hit = matches!(&self.0.peek_token_ref().token, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
        if hit {
            self.0.next_token();
        }
        hit
    }

    fn expect_word(&mut self, w: &str) -> R<()> {
        if self.word(w) {
            Ok(())
        } else {
            let found = self.0.peek_token_ref().clone();
            self.0.expected(w, found)
        }
    }

    /// A column, computed column, metadata column, watermark or primary key; in ALTER TABLE
    /// ADD/MODIFY also `FIRST` / `AFTER col`.
    fn table_element(&mut self, positioned: bool) -> R<()> {
        if self.word("WATERMARK") {
            self.expect_word("FOR")?;
            self.0.parse_identifier()?;
            self.expect_word("AS")?;
            expr_without_relations(self.0)?;
            return Ok(());
        }
        if self.word("CONSTRAINT") {
            self.0.parse_identifier()?;
            return self.primary_key(true);
        }
        if matches!(&self.0.peek_token_ref().token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("PRIMARY"))
            && matches!(&self.0.peek_nth_token_ref(1).token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("KEY"))
        {
            return self.primary_key(true);
        }
        self.0.parse_identifier()?;
        if self.word("AS") {
            expr_without_relations(self.0)?;
        } else {
            self.0.parse_data_type()?;
            if self.word("METADATA") {
                if self.word("FROM") {
                    self.0.parse_literal_string()?;
                }
                self.word("VIRTUAL");
            }
            loop {
                if self.word("NOT") {
                    self.expect_word("NULL")?;
                } else if self.word("NULL") {
                } else if self.word("CONSTRAINT") {
                    self.0.parse_identifier()?;
                    self.primary_key(false)?;
                } else if self.word("PRIMARY") {
                    self.0.prev_token();
                    self.primary_key(false)?;
                } else {
                    break;
                }
            }
        }
        if self.word("COMMENT") {
            self.0.parse_literal_string()?;
        }
        if positioned && !self.word("FIRST") && self.word("AFTER") {
            self.0.parse_identifier()?;
        }
        Ok(())
    }

    /// `PRIMARY KEY [(cols)] NOT ENFORCED` (Flink requires NOT ENFORCED).
    fn primary_key(&mut self, with_columns: bool) -> R<()> {
        self.expect_word("PRIMARY")?;
        self.expect_word("KEY")?;
        if with_columns {
            self.0.expect_token(&Token::LParen)?;
            self.0.parse_comma_separated(Parser::parse_identifier)?;
            self.0.expect_token(&Token::RParen)?;
        }
        self.expect_word("NOT")?;
        self.expect_word("ENFORCED")
    }
}

/// `INCLUDING | EXCLUDING | OVERWRITING` `ALL | CONSTRAINTS | DISTRIBUTION | GENERATED |
/// METADATA | OPTIONS | PARTITIONS | WATERMARKS` of `LIKE t (...)`.
fn like_option(p: &mut Parser) -> R<()> {
    let mut g = Reborrow(p);
    if !(g.word("INCLUDING") || g.word("EXCLUDING") || g.word("OVERWRITING")) {
        let found = p.peek_token_ref().clone();
        return p.expected("INCLUDING, EXCLUDING or OVERWRITING", found);
    }
    let mut g = Reborrow(p);
    for w in [
        "ALL",
        "CONSTRAINTS",
        "DISTRIBUTION",
        "GENERATED",
        "METADATA",
        "OPTIONS",
        "PARTITIONS",
        "WATERMARKS",
    ] {
        if g.word(w) {
            return Ok(());
        }
    }
    let found = p.peek_token_ref().clone();
    p.expected(
        "a LIKE option (ALL, CONSTRAINTS, GENERATED, OPTIONS, …)",
        found,
    )
}

/// An expression that names no relation: computed columns and watermarks may not query.
fn expr_without_relations(p: &mut Parser) -> R<Expr> {
    let expr = p.parse_expr()?;
    struct NoRelations;
    impl Visitor for NoRelations {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
        fn pre_visit_relation(&mut self, _: &ObjectName) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if table_argument(e).is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    if expr.visit(&mut NoRelations).is_break() {
        return Err(ParserError::ParserError(format!(
            "a query or table is not allowed in a column or watermark expression: {expr}"
        )));
    }
    Ok(expr)
}

fn unsupported(what: &str) -> Refusal {
    Refusal::Unsupported(what.to_string())
}
