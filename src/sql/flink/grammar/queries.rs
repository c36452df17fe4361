//! The reading families of the Flink-only grammar: `SHOW …` and its listings, `EXPLAIN`,
//! `EXECUTE STATEMENT SET`, `INSERT` and queries. Moved from `grammar.rs` unchanged (methods
//! became `pub(super)`).

use super::*;

impl Grammar<'_> {
    pub(super) fn show(&mut self) -> Result<Option<&'static str>, Refusal> {
        let kind = if self.word("CATALOGS") {
            self.optional_like()?;
            self.sites
                .push(Site::Implicit(Scope::Organization(Action::List)));
            "SHOW_CATALOGS"
        } else if self.words(&["CURRENT", "CATALOG"]) {
            // The gateway answers it from the session's catalog (`session_info`), bound here.
            self.sites
                .push(Site::Implicit(Scope::Catalog(Action::Describe)));
            "SHOW_CURRENT_CATALOG"
        } else if self.words(&["CURRENT", "DATABASE"]) {
            self.sites
                .push(Site::Implicit(Scope::Database(Action::Describe)));
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
    pub(super) fn listing(&mut self) -> Result<(), Refusal> {
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
    pub(super) fn explain(&mut self) -> Result<&'static str, Refusal> {
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
    pub(super) fn statement_set(&mut self) -> Result<(), Refusal> {
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

    pub(super) fn insert(&mut self) -> Result<(), Refusal> {
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

    pub(super) fn query(&mut self) -> Result<(), Refusal> {
        let start = self.start_offset();
        let query: Box<Query> = self.p.parse_query()?;
        let range = start..self.end_offset();
        self.sites.push(Site::Statement {
            range,
            statement: Box::new(Statement::Query(query)),
        });
        Ok(())
    }
}
