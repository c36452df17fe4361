//! The DDL families of the Flink-only grammar: `ADD`/`REMOVE JAR`, `CREATE [OR REPLACE] TABLE`
//! / `VIEW`, `DROP …`, `ALTER …`, the clauses they share (COMMENT, DISTRIBUTED BY, WITH options,
//! LIKE, PARTITION specs) and the table-element grammar. Moved from `grammar.rs` unchanged
//! (methods became `pub(super)`).

use super::*;

impl Grammar<'_> {
    /// `'path'` of `ADD JAR` / `REMOVE JAR`: loading or unloading code in the session is an
    /// administrator's change to the session's catalog (see `flink.rs`).
    pub(super) fn jar(&mut self) -> R<()> {
        self.p.parse_literal_string()?;
        self.sites
            .push(Site::Implicit(Scope::Catalog(Action::Alter)));
        Ok(())
    }

    /// `CREATE [OR REPLACE] [TEMPORARY] TABLE` after `TABLE`, or `REPLACE TABLE`.
    pub(super) fn create_table(&mut self, replace: bool) -> Result<&'static str, Refusal> {
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
    pub(super) fn create_view(&mut self) -> Result<&'static str, Refusal> {
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

    pub(super) fn drop(&mut self) -> Result<Option<&'static str>, Refusal> {
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

    pub(super) fn alter(&mut self) -> Result<Option<&'static str>, Refusal> {
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
    pub(super) fn alter_table(&mut self) -> Result<(), Refusal> {
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

    pub(super) fn optional_comment(&mut self) -> R<()> {
        if self.word("COMMENT") {
            self.p.parse_literal_string()?;
        }
        Ok(())
    }

    /// `DISTRIBUTED BY [HASH|RANGE] (cols) [INTO n BUCKETS]` or `DISTRIBUTED INTO n BUCKETS`.
    pub(super) fn optional_distribution(&mut self) -> R<()> {
        if self.word("DISTRIBUTED") {
            self.distribution_body()?;
        }
        Ok(())
    }

    pub(super) fn distribution_body(&mut self) -> R<()> {
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
    pub(super) fn options(&mut self) -> R<Vec<(String, String)>> {
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
    pub(super) fn string_list(&mut self) -> R<Vec<String>> {
        self.p.expect_token(&Token::LParen)?;
        let keys = self.p.parse_comma_separated(Parser::parse_literal_string)?;
        self.p.expect_token(&Token::RParen)?;
        Ok(keys)
    }

    pub(super) fn paren_idents(&mut self) -> R<()> {
        self.p.expect_token(&Token::LParen)?;
        self.p.parse_comma_separated(Parser::parse_identifier)?;
        self.p.expect_token(&Token::RParen)?;
        Ok(())
    }

    /// `[NOT] (LIKE | ILIKE) 'pattern'`.
    pub(super) fn optional_like(&mut self) -> Result<(), Refusal> {
        let not = self.word("NOT");
        if self.word("LIKE") || self.word("ILIKE") {
            self.p.parse_literal_string()?;
        } else if not {
            return Err(self.expected("LIKE or ILIKE after NOT")?);
        }
        Ok(())
    }

    /// `PARTITION (k [= literal] [, ...])`.
    pub(super) fn optional_partition_spec(&mut self) -> R<()> {
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
