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

/// Parses the ALTER TABLE forms a topic supports.
pub fn parse_alter(sql: &str) -> Result<AlterTable, String> {
    let dialect = FlinkDialect;
    let mut p = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| e.to_string())?;
    let kw = |p: &mut Parser, w: &str| {
        if matches!(p.peek_token().token, Token::Word(ref x) if x.value.eq_ignore_ascii_case(w)) {
            p.next_token();
            true
        } else {
            false
        }
    };
    if !(kw(&mut p, "ALTER") && kw(&mut p, "TABLE")) {
        return Err("expected ALTER TABLE".into());
    }
    let _ = kw(&mut p, "IF") && kw(&mut p, "EXISTS");
    let name: Vec<String> = p
        .parse_object_name(false)
        .map_err(|e| e.to_string())?
        .0
        .iter()
        .filter_map(|x| x.as_ident().map(|i| i.value.clone()))
        .collect();
    let result = if kw(&mut p, "SET") {
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
    } else if kw(&mut p, "ADD") {
        let paren = p.consume_token(&Token::LParen);
        let defs = if paren {
            let d = p
                .parse_comma_separated(Parser::parse_column_def)
                .map_err(|e| e.to_string())?;
            p.expect_token(&Token::RParen).map_err(|e| e.to_string())?;
            d
        } else {
            vec![p.parse_column_def().map_err(|e| e.to_string())?]
        };
        let mut columns = Vec::new();
        for d in defs {
            if !d.options.is_empty() {
                return Err(format!(
                    "column {}: only a name and a type may be added to a topic's table",
                    d.name
                ));
            }
            columns.push((d.name.value.clone(), d.data_type.to_string()));
        }
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
