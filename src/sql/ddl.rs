//! Flink table DDL as data: the `DISTRIBUTED BY … INTO n BUCKETS` clause, the rest of a
//! CREATE TABLE as sqlparser's AST (WITH options included), and the ALTER TABLE forms a topic
//! supports. [`crate::rewrite::rewrite`] parses a Flink-only CREATE / ALTER TABLE into a
//! [`FlinkDdl`] from its canonical text once, so an engine receives typed clauses and never
//! parses text again.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::sql::FlinkDialect;

/// A Flink-only table DDL statement as data, every name in it canonical.
#[derive(Debug, Clone)]
pub enum FlinkDdl {
    /// CREATE TABLE [AS SELECT] with a `DISTRIBUTED` clause or other Flink-only syntax that
    /// this form holds.
    Create(Box<FlinkCreate>),
    /// ALTER TABLE … SET (options) / ADD columns.
    Alter(AlterTable),
    /// `TRUNCATE TABLE t`: the table's 3-part name.
    Truncate(Vec<String>),
    /// `SHOW CREATE TABLE t`: the table's 3-part name.
    ShowCreateTable(Vec<String>),
    /// `SHOW COLUMNS FROM t [[NOT] LIKE 'p']`.
    ShowColumns {
        /// The table's 3-part name.
        name: Vec<String>,
        /// The LIKE filter, if any.
        like: Option<Like>,
    },
    /// `SHOW [USER] FUNCTIONS FROM db [[NOT] LIKE 'p']`.
    ShowFunctions {
        /// Only user-defined functions (`SHOW USER FUNCTIONS`).
        user: bool,
        /// The LIKE filter, if any.
        like: Option<Like>,
    },
    /// `EXPLAIN [PLAN FOR | detail, …] <query>`: the query (its names canonical) and the
    /// details asked for.
    Explain {
        /// The explained statement.
        statement: Box<Statement>,
        /// `ESTIMATED_COST`, `CHANGELOG_MODE`, … as written (upper-cased).
        details: Vec<String>,
    },
}

/// A SHOW statement's `[NOT] [I]LIKE 'pattern'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Like {
    /// `NOT LIKE`.
    pub negated: bool,
    /// `ILIKE` (case-insensitive).
    pub insensitive: bool,
    /// The pattern (`%` and `_`).
    pub pattern: String,
}

impl FlinkDdl {
    /// The typed form of a Flink-only statement of kind `kind` with canonical text `sql`;
    /// `None` when it is no such statement or has syntax this form does not hold
    /// (watermarks, computed or metadata columns), which an engine then refuses.
    pub fn of(kind: &str, sql: &str) -> Option<Self> {
        match kind {
            "CREATE_TABLE" | "CREATE_TABLE_AS" => {
                parse_create(sql).ok().map(|c| Self::Create(Box::new(c)))
            }
            "ALTER_TABLE" => parse_alter(sql).ok().map(Self::Alter),
            "TRUNCATE_TABLE" => table_after(sql, &["TRUNCATE", "TABLE"]).map(Self::Truncate),
            "SHOW_CREATE_TABLE" => {
                table_after(sql, &["SHOW", "CREATE", "TABLE"]).map(Self::ShowCreateTable)
            }
            "SHOW_COLUMNS" => {
                let like = like_of(sql).ok()?;
                table_after(sql, &["SHOW", "COLUMNS"]).map(|name| Self::ShowColumns { name, like })
            }
            "SHOW_FUNCTIONS" => Some(Self::ShowFunctions {
                user: sql
                    .trim_start()
                    .get(4..)
                    .is_some_and(|rest| rest.trim_start().to_ascii_uppercase().starts_with("USER")),
                like: like_of(sql).ok()?,
            }),
            "EXPLAIN" => parse_explain(sql).ok(),
            _ => None,
        }
    }
}

/// `DISTRIBUTED BY (cols) INTO n BUCKETS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distribution {
    /// Key columns (empty for `DISTRIBUTED INTO n BUCKETS`).
    pub columns: Vec<String>,
    /// Number of partitions, if given.
    pub buckets: Option<i32>,
}

/// A CREATE TABLE statement split into the part sqlparser reads and the distribution.
#[derive(Debug, Clone)]
pub struct FlinkCreate {
    /// The statement without its `DISTRIBUTED` clause.
    pub statement: Statement,
    /// The clause, if present.
    pub distribution: Option<Distribution>,
}

/// What an ALTER TABLE on a topic does.
#[derive(Debug, Clone)]
pub enum AlterTable {
    /// `ALTER TABLE t SET ('k' = 'v', …)`.
    Set {
        /// The table's 3-part name.
        name: Vec<String>,
        /// The options.
        options: Vec<(String, String)>,
    },
    /// `ALTER TABLE t ADD (col type, …)` / `ADD col type`.
    Add {
        /// The table's 3-part name.
        name: Vec<String>,
        /// New columns.
        columns: Vec<(String, String)>,
    },
    /// `ALTER TABLE t RESET ('k', …)`.
    Reset {
        /// The table's 3-part name.
        name: Vec<String>,
        /// The option keys.
        keys: Vec<String>,
    },
    /// `ALTER TABLE t MODIFY (col type, …)` / `MODIFY col type`: new types of existing columns.
    Modify {
        /// The table's 3-part name.
        name: Vec<String>,
        /// The columns with their new types.
        columns: Vec<(String, String)>,
    },
    /// `ALTER TABLE t DROP (col, …)` / `DROP col`.
    DropColumns {
        /// The table's 3-part name.
        name: Vec<String>,
        /// The columns dropped.
        columns: Vec<String>,
    },
    /// `ALTER TABLE t RENAME TO t2`.
    Rename {
        /// The table's 3-part name.
        name: Vec<String>,
        /// The new 3-part name.
        to: Vec<String>,
    },
}

impl AlterTable {
    /// The altered table's 3-part name.
    pub fn name(&self) -> &[String] {
        match self {
            Self::Set { name, .. }
            | Self::Add { name, .. }
            | Self::Reset { name, .. }
            | Self::Modify { name, .. }
            | Self::DropColumns { name, .. }
            | Self::Rename { name, .. } => name,
        }
    }

    /// What it does, as a refusal names it (`ALTER TABLE … RESET`).
    pub fn form(&self) -> &'static str {
        match self {
            Self::Set { .. } => "ALTER TABLE … SET",
            Self::Add { .. } => "ALTER TABLE … ADD",
            Self::Reset { .. } => "ALTER TABLE … RESET",
            Self::Modify { .. } => "ALTER TABLE … MODIFY",
            Self::DropColumns { .. } => "ALTER TABLE … DROP",
            Self::Rename { .. } => "ALTER TABLE … RENAME TO",
        }
    }
}

fn idents(name: &datafusion::sql::sqlparser::ast::ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|x| x.as_ident().map(|i| i.value.clone()))
        .collect()
}

/// The table name after the keywords `words` at the start of `sql`, if the statement is just
/// that name (and perhaps a LIKE filter).
fn table_after(sql: &str, words: &[&str]) -> Option<Vec<String>> {
    let dialect = FlinkDialect;
    let mut p = Parser::new(&dialect).try_with_sql(sql).ok()?;
    for w in words {
        match p.next_token().token {
            Token::Word(x) if x.value.eq_ignore_ascii_case(w) => {}
            _ => return None,
        }
    }
    // SHOW COLUMNS FROM | IN t
    if matches!(p.peek_token().token, Token::Word(ref x)
        if x.value.eq_ignore_ascii_case("FROM") || x.value.eq_ignore_ascii_case("IN"))
    {
        p.next_token();
    }
    Some(idents(&p.parse_object_name(false).ok()?))
}

/// The `[NOT] [I]LIKE 'pattern'` at the end of a SHOW statement.
fn like_of(sql: &str) -> Result<Option<Like>, String> {
    let tokens = Tokenizer::new(&FlinkDialect, sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.value.eq_ignore_ascii_case(w));
    let n = significant.len();
    let (Some(Token::SingleQuotedString(pattern)), Some(kw)) = (
        significant.last().copied(),
        n.checked_sub(2).map(|i| significant[i]),
    ) else {
        return Ok(None);
    };
    let insensitive = word(kw, "ILIKE");
    if !(insensitive || word(kw, "LIKE")) {
        return Ok(None);
    }
    let negated = n >= 3 && word(significant[n - 3], "NOT");
    Ok(Some(Like {
        negated,
        insensitive,
        pattern: pattern.clone(),
    }))
}

/// Takes the next token if it is the word `w` (any case); whether it did.
fn keyword(p: &mut Parser, w: &str) -> bool {
    if matches!(p.peek_token().token, Token::Word(ref x) if x.value.eq_ignore_ascii_case(w)) {
        p.next_token();
        true
    } else {
        false
    }
}

/// `EXPLAIN [PLAN FOR | detail, …] <query or INSERT>` (statement sets are not held here).
pub fn parse_explain(sql: &str) -> Result<FlinkDdl, String> {
    let dialect = FlinkDialect;
    let mut p = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| e.to_string())?;
    if !keyword(&mut p, "EXPLAIN") {
        return Err("expected EXPLAIN".into());
    }
    let mut details = Vec::new();
    if !(keyword(&mut p, "PLAN") && keyword(&mut p, "FOR")) {
        while let Token::Word(w) = p.peek_token().token {
            let u = w.value.to_ascii_uppercase();
            if ![
                "ESTIMATED_COST",
                "CHANGELOG_MODE",
                "JSON_EXECUTION_PLAN",
                "PLAN_ADVICE",
            ]
            .contains(&u.as_str())
            {
                break;
            }
            p.next_token();
            details.push(u);
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
    }
    if matches!(p.peek_token().token, Token::Word(ref x) if x.value.eq_ignore_ascii_case("STATEMENT"))
    {
        return Err("EXPLAIN STATEMENT SET".into());
    }
    let statement = p.parse_statement().map_err(|e| e.to_string())?;
    let _ = p.consume_token(&Token::SemiColon);
    if p.peek_token().token != Token::EOF {
        return Err("unexpected text after the explained statement".into());
    }
    Ok(FlinkDdl::Explain {
        statement: Box::new(statement),
        details,
    })
}

fn plan(msg: impl Into<String>) -> String {
    msg.into()
}

/// Splits the `DISTRIBUTED …` clause off a Flink CREATE TABLE text and parses the rest.
pub fn parse_create(sql: &str) -> Result<FlinkCreate, String> {
    let dialect = FlinkDialect;
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.value.eq_ignore_ascii_case(w));
    let mut depth = 0i32;
    let mut start = None;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && word(t, "DISTRIBUTED") => {
                start = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(start) = start else {
        let statement = Parser::parse_sql(&dialect, sql)
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or("empty statement")?;
        return Ok(FlinkCreate {
            statement,
            distribution: None,
        });
    };
    // Walk the clause: BY [HASH|RANGE] (a, b) [INTO n BUCKETS] | INTO n BUCKETS.
    let significant: Vec<(usize, &Token)> = tokens
        .iter()
        .enumerate()
        .skip(start + 1)
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut it = significant.into_iter().peekable();
    let mut dist = Distribution::default();
    let mut end = start + 1;
    if it.peek().is_some_and(|(_, t)| word(t, "BY")) {
        it.next();
        if it
            .peek()
            .is_some_and(|(_, t)| word(t, "HASH") || word(t, "RANGE"))
        {
            it.next();
        }
        if !matches!(it.next(), Some((_, Token::LParen))) {
            return Err(plan("expected ( after DISTRIBUTED BY"));
        }
        loop {
            match it.next() {
                Some((_, Token::Word(w))) => dist.columns.push(w.value.clone()),
                Some((_, Token::Comma)) => {}
                Some((i, Token::RParen)) => {
                    end = i + 1;
                    break;
                }
                _ => return Err(plan("malformed DISTRIBUTED BY column list")),
            }
        }
    }
    if it.peek().is_some_and(|(_, t)| word(t, "INTO")) {
        it.next();
        let n = match it.next() {
            Some((_, Token::Number(n, _))) => n
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("invalid number of buckets {n}"))?,
            _ => return Err(plan("expected a number after INTO")),
        };
        match it.next() {
            Some((i, t)) if word(t, "BUCKETS") => end = i + 1,
            _ => return Err(plan("expected BUCKETS")),
        }
        dist.buckets = Some(n);
    }
    let rest: String = tokens[..start]
        .iter()
        .chain(std::iter::once(&Token::Whitespace(Whitespace::Space)))
        .chain(tokens[end..].iter())
        .map(|t| t.to_string())
        .collect();
    let statement = Parser::parse_sql(&dialect, &rest)
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("empty statement")?;
    Ok(FlinkCreate {
        statement,
        distribution: Some(dist),
    })
}

/// `(col type, …)` or `col type`: names and types only.
fn column_defs(p: &mut Parser) -> Result<Vec<(String, String)>, String> {
    let defs = if p.consume_token(&Token::LParen) {
        let d = p
            .parse_comma_separated(Parser::parse_column_def)
            .map_err(|e| e.to_string())?;
        p.expect_token(&Token::RParen).map_err(|e| e.to_string())?;
        d
    } else {
        vec![p.parse_column_def().map_err(|e| e.to_string())?]
    };
    defs.into_iter()
        .map(|d| {
            if d.options.is_empty() {
                Ok((d.name.value, d.data_type.to_string()))
            } else {
                Err(format!(
                    "column {}: only a name and a type may be added or modified",
                    d.name
                ))
            }
        })
        .collect()
}

/// Parses the ALTER TABLE forms sqlgate runs: SET, RESET, ADD, MODIFY and DROP of columns,
/// RENAME TO (a topic's table supports SET and ADD).
pub fn parse_alter(sql: &str) -> Result<AlterTable, String> {
    let dialect = FlinkDialect;
    let mut p = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| e.to_string())?;
    if !(keyword(&mut p, "ALTER") && keyword(&mut p, "TABLE")) {
        return Err("expected ALTER TABLE".into());
    }
    let _ = keyword(&mut p, "IF") && keyword(&mut p, "EXISTS");
    let name: Vec<String> = p
        .parse_object_name(false)
        .map_err(|e| e.to_string())?
        .0
        .iter()
        .filter_map(|x| x.as_ident().map(|i| i.value.clone()))
        .collect();
    let result = if keyword(&mut p, "SET") {
        p.expect_token(&Token::LParen).map_err(|e| e.to_string())?;
        let options = p
            .parse_comma_separated(|p| {
                let k = p.parse_literal_string()?;
                p.expect_token(&Token::Eq)?;
                let v = p.parse_literal_string()?;
                Ok((k, v))
            })
            .map_err(|e| e.to_string())?;
        p.expect_token(&Token::RParen).map_err(|e| e.to_string())?;
        AlterTable::Set { name, options }
    } else if keyword(&mut p, "RESET") {
        p.expect_token(&Token::LParen).map_err(|e| e.to_string())?;
        let keys = p
            .parse_comma_separated(Parser::parse_literal_string)
            .map_err(|e| e.to_string())?;
        p.expect_token(&Token::RParen).map_err(|e| e.to_string())?;
        AlterTable::Reset { name, keys }
    } else if keyword(&mut p, "RENAME") {
        if !keyword(&mut p, "TO") {
            return Err("only ALTER TABLE … RENAME TO is held here".into());
        }
        let to = idents(&p.parse_object_name(false).map_err(|e| e.to_string())?);
        AlterTable::Rename { name, to }
    } else if keyword(&mut p, "DROP") {
        if ["PRIMARY", "WATERMARK", "DISTRIBUTION", "CONSTRAINT"].iter().any(|w| {
            matches!(p.peek_token().token, Token::Word(ref x) if x.value.eq_ignore_ascii_case(w))
        }) {
            return Err("only ALTER TABLE … DROP of columns is held here".into());
        }
        let columns = if p.consume_token(&Token::LParen) {
            let c = p
                .parse_comma_separated(Parser::parse_identifier)
                .map_err(|e| e.to_string())?;
            p.expect_token(&Token::RParen).map_err(|e| e.to_string())?;
            c
        } else {
            vec![p.parse_identifier().map_err(|e| e.to_string())?]
        };
        AlterTable::DropColumns {
            name,
            columns: columns.into_iter().map(|i| i.value).collect(),
        }
    } else if keyword(&mut p, "MODIFY") {
        let columns = column_defs(&mut p)?;
        AlterTable::Modify { name, columns }
    } else if keyword(&mut p, "ADD") {
        let columns = column_defs(&mut p)?;
        AlterTable::Add { name, columns }
    } else {
        return Err(
            "a Kafka-backed table supports ALTER TABLE … SET (options) and ALTER TABLE … ADD \
             columns"
                .into(),
        );
    };
    let _ = p.consume_token(&Token::SemiColon);
    if p.peek_token().token != Token::EOF {
        return Err(format!(
            "unexpected {} after ALTER TABLE",
            p.peek_token().token
        ));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    /// `sql` through the one decision path, as the repository's developer.
    async fn rewritten(sql: &str) -> crate::rewrite::RewrittenStatement {
        Fixture::new().await.rewritten("User:pool-dev", sql)
    }

    /// The engine gets `DISTRIBUTED BY` and the WITH options as data, with canonical names,
    /// from the very statement that was authorized.
    #[tokio::test]
    async fn flink_table_ddl_reaches_the_engine_as_typed_clauses() {
        let r = rewritten(
            "CREATE TABLE t (id INT, v STRING) DISTRIBUTED BY HASH(id) INTO 4 BUCKETS \
             WITH ('kafka.retention.time' = '1 h')",
        )
        .await;
        assert!(r.is_flink_only());
        let Some(FlinkDdl::Create(create)) = r.ddl() else {
            panic!("no typed CREATE TABLE: {:?}", r.ddl());
        };
        assert_eq!(
            create.distribution,
            Some(Distribution {
                columns: vec!["id".into()],
                buckets: Some(4)
            })
        );
        let Statement::CreateTable(ct) = &create.statement else {
            panic!("not a CREATE TABLE");
        };
        assert_eq!(ct.name.to_string(), "`env-dev`.`lkc-dev`.`t`");
        assert!(
            ct.table_options
                .to_string()
                .contains("kafka.retention.time")
        );

        let r = rewritten("ALTER TABLE t SET ('kafka.retention.time' = '2 h')").await;
        let Some(FlinkDdl::Alter(AlterTable::Set { name, options })) = r.ddl() else {
            panic!("no typed ALTER TABLE: {:?}", r.ddl());
        };
        assert_eq!(name, &["env-dev", "lkc-dev", "t"]);
        assert_eq!(
            options,
            &[("kafka.retention.time".to_string(), "2 h".to_string())]
        );

        // Statements without typed table DDL carry none.
        assert!(rewritten("SELECT 1").await.ddl().is_none());
    }
}
