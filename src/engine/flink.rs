//! The Flink engine: statements run on an Apache Flink SQL Gateway (REST v2+), one session
//! per statement, in the region of the compute pools that name this engine.
//!
//! The engine sees exactly what was checked: a statement's session declares only the tables
//! the statement was authorized to touch (its [`RewrittenStatement::accesses`]), as sqlgate
//! generates them from the cluster's configuration and the topic's registered schema
//! (`declare`), in a catalog per environment and a database per cluster, with Flink's default
//! catalog dropped. `/*+ OPTIONS(…) */` hints are enabled: the gateway lets through only the
//! read options of its allow-list (`sql/hints.rs`), on tables it declared. The SQL sent is the
//! canonical rendering the gateway checked ([`RewrittenStatement::sql`]), never the client's
//! text. Sessions run in UTC (Flink's JSON rows label local-time-zone values with `Z`); the
//! client's `sql.local-time-zone` is applied to computation; TIMESTAMP_LTZ values are shown
//! as UTC wall-clock time, the statements API's encoding (`values`).
//!
//! What sqlgate does itself stays sqlgate's: CREATE / DROP / ALTER TABLE (topics and
//! subjects), SHOW and DESCRIBE go to the embedded engine's Kafka code, never to Flink, and a
//! CREATE TABLE in a format Flink cannot read (`json-registry`), or with a column its format
//! cannot carry to Flink (`TIMESTAMP_LTZ` in Avro, see `declare`), is refused by name before
//! anything is created.
//!
//! A statement that runs on Flink starts in two steps ([`Engine::start`]): its session is
//! opened before the create is answered, so a SQL Gateway that is down is a 503 with nothing
//! left behind; declaring its tables, planning, submitting and the first result page, which
//! take seconds to a minute, run while the statement shows PENDING, bounded by the engine's
//! `start_timeout`.
//!
//! Parts: `client` (REST calls, error root causes), `json` (rows with exact numbers),
//! `values` (types and the row encoding), `declare` (session catalog), `run` (session,
//! operation, result pages, stop), `upsert` (`status.traits.upsert_columns`, and the rule
//! that derives them).

mod client;
mod declare;
mod json;
mod run;
mod upsert;
mod values;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use datafusion::sql::sqlparser::ast::Statement;

use super::registry::EngineEntry;
use super::{
    Column, EmbeddedEngine, Engine, EngineError, ExecContext, Execution, Pending, Schema, Start,
    Traits,
};
use crate::catalog::{Catalogs, ObjectRef, TableRef};
use crate::rewrite::RewrittenStatement;
use client::{CallError, Client};
use run::{FlinkCancel, Handle};

/// Statement kinds that run on Flink; the others are sqlgate's own (see the module doc).
const ON_FLINK: [&str; 4] = ["SELECT", "INSERT_INTO", "STATEMENT_SET", "EXPLAIN"];

/// A Flink SQL Gateway as an engine (see the module doc).
#[derive(Debug, Clone)]
pub struct FlinkEngine {
    id: String,
    entry: EngineEntry,
    client: Client,
    /// sqlgate's own Kafka DDL, SHOW and DESCRIBE, and the clusters' table definitions.
    embedded: Arc<EmbeddedEngine>,
}

impl FlinkEngine {
    /// The engine of `entry` (kind `flink`, validated). Nothing connects yet: a gateway that
    /// is down only makes statements fail with 503 until it is back.
    pub fn new(entry: &EngineEntry, embedded: Arc<EmbeddedEngine>) -> Result<Self, EngineError> {
        let (Some(gw), Some(jm)) = (&entry.sql_gateway_url, &entry.jobmanager_url) else {
            return Err(EngineError::Internal(format!(
                "engine `{}` has no sql_gateway_url or jobmanager_url",
                entry.id
            )));
        };
        let client = Client::new(gw, jm, entry.request_timeout).map_err(EngineError::Internal)?;
        Ok(Self {
            id: entry.id.clone(),
            entry: entry.clone(),
            client,
            embedded,
        })
    }

    fn unavailable(&self, e: &CallError) -> EngineError {
        EngineError::Unavailable(format!(
            "the Flink SQL Gateway of engine `{}` ({}) is unavailable: {e}",
            self.id,
            self.client.gateway_url()
        ))
    }

    /// A CREATE TABLE asking for a format this engine's Flink cannot read, or for a column
    /// that its format cannot carry to Flink, is refused by name before anything is created.
    fn check_create_readable(&self, stmt: &RewrittenStatement) -> Result<(), EngineError> {
        Self::check_create_format(stmt)?;
        let Some((table, layout, cluster)) = self.embedded.planned_topic_table(stmt) else {
            return Ok(());
        };
        declare::create_table(&table, &layout, cluster.config(), false)
            .map(|_| ())
            .map_err(|declare::DeclareError::Format(m)| EngineError::Unsupported(m))
    }

    /// A CREATE TABLE asking for a format this engine's Flink cannot read is refused by name.
    fn check_create_format(stmt: &RewrittenStatement) -> Result<(), EngineError> {
        let ct = match stmt.ddl() {
            Some(crate::sql::FlinkDdl::Create(c)) => match &c.statement {
                Statement::CreateTable(ct) => Some(ct.clone()),
                _ => None,
            },
            _ => match stmt.statement() {
                Statement::CreateTable(ct) => Some(ct.clone()),
                _ => None,
            },
        };
        let Some(ct) = ct else { return Ok(()) };
        let options = crate::kafka::ddl::create_options(&ct.table_options).unwrap_or_default();
        for (k, v) in options {
            if matches!(k.as_str(), "value.format" | "key.format") && v.trim() == "json-registry" {
                return Err(EngineError::Unsupported(format!(
                    "'{k}' = 'json-registry' (Confluent-framed JSON) cannot be read by the Flink \
                     engine of this compute pool; use 'avro-registry' or 'json'"
                )));
            }
        }
        Ok(())
    }

    /// The `CREATE TABLE` declarations of the tables the statement was authorized to touch.
    async fn declarations(
        &self,
        stmt: &RewrittenStatement,
        bounded: bool,
    ) -> Result<Vec<(TableRef, String)>, EngineError> {
        let tables: BTreeSet<TableRef> = stmt
            .accesses()
            .iter()
            .filter_map(|a| match &a.object {
                // A view read is in the statement as its body, which names its tables.
                ObjectRef::Table(t) if !self.embedded.is_view(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        for t in tables {
            if Catalogs::is_examples(&t.catalog) {
                return Err(EngineError::Unsupported(format!(
                    "table {t} is a built-in example of the embedded engine; the Flink engine \
                     reads Kafka topics only"
                )));
            }
            let Some(cluster) = self.embedded.kafka_cluster(&t.catalog, &t.database) else {
                return Err(EngineError::Unsupported(format!(
                    "table {t} is stored by sqlgate's embedded engine, not in Kafka; the Flink \
                     engine reads Kafka-backed databases only"
                )));
            };
            let table = cluster
                .table(&t.table)
                .await
                .map_err(|e| super::embedded::kafka_table_error(e, &t))?
                .ok_or_else(|| EngineError::TableNotFound(t.clone()))?;
            let ddl = declare::create_table(&t, &table.layout, cluster.config(), bounded)
                .map_err(|declare::DeclareError::Format(m)| EngineError::Unsupported(m))?;
            out.push((t, ddl));
        }
        Ok(out)
    }

    /// The text of a statement that reads through row filters or column masks, with each
    /// masked table's `* REPLACE (…)` expanded into its columns (Flink has no `REPLACE`) and
    /// the client's hints where they were written; `None` when no policy applies. A policy naming a column the table lacks refuses the
    /// statement, naming the table only.
    async fn policy_sql(&self, stmt: &RewrittenStatement) -> Result<Option<String>, EngineError> {
        if stmt.data_policies().is_empty() {
            return Ok(None);
        }
        let mut columns = std::collections::BTreeMap::new();
        for applied in stmt.data_policies() {
            let t = &applied.table;
            let Some(cluster) = self.embedded.kafka_cluster(&t.catalog, &t.database) else {
                continue;
            };
            let table = cluster
                .table(&t.table)
                .await
                .map_err(|e| super::embedded::kafka_table_error(e, t))?
                .ok_or_else(|| EngineError::TableNotFound(t.clone()))?;
            // The derived table carries the metadata columns every topic table is declared
            // with (`declare::create_table`) after its own: `SELECT *` keeps its shape and
            // `$rowtime` (still the time attribute) can be read through the policy.
            let names: Vec<String> = table
                .layout
                .columns
                .iter()
                .map(|(n, _)| n.clone())
                .chain(declare::METADATA_COLUMNS.iter().map(|c| c.to_string()))
                .collect();
            applied
                .check_columns(&names)
                .map_err(|e| EngineError::Plan(e.detail()))?;
            columns.insert(t.clone(), names);
        }
        // The statement, or each statement of a Flink-only one (a statement set's INSERTs,
        // …), rendered with its hints.
        let mut asts = stmt.statements().to_vec();
        for ast in &mut asts {
            crate::rewrite::expand_replace(ast, &|t| columns.get(t).cloned())
                .map_err(|e| EngineError::Plan(e.detail()))?;
        }
        stmt.render(&asts)
            .map(Some)
            .map_err(|e| EngineError::Plan(e.detail()))
    }

    /// Waits until an operation leaves PENDING/RUNNING (bounded by `start_timeout`); its
    /// final status.
    async fn settle(&self, handle: &Handle, op: &str) -> Result<String, EngineError> {
        let deadline = tokio::time::Instant::now() + self.entry.start_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            let s = self
                .client
                .status(handle.session(), op)
                .await
                .map_err(|e| self.unavailable(&e))?;
            if !matches!(s.as_str(), "PENDING" | "RUNNING" | "INITIALIZED") {
                return Ok(s);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Unavailable(format!(
                    "the Flink SQL Gateway of engine `{}` did not start the statement within {}",
                    self.id,
                    humantime::format_duration(self.entry.start_timeout)
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.entry.poll_interval);
        }
    }

    /// Submits `sql`, waits for it to be planned, and fetches its first non-empty page (or
    /// EOS). Planning errors come back as [`EngineError::Plan`] with Flink's root cause.
    async fn submit(
        &self,
        handle: &Handle,
        sql: &str,
        exec: &[(&str, String)],
    ) -> Result<(String, client::Page), EngineError> {
        let op = self
            .client
            .submit(handle.session(), sql, exec)
            .await
            .map_err(|e| match e {
                CallError::Failed { root, .. } => EngineError::Plan(root),
                other => self.unavailable(&other),
            })?;
        handle.set_operation(&op);
        let status = self.settle(handle, &op).await?;
        let mut uri = Client::first_page(handle.session(), &op);
        let deadline = tokio::time::Instant::now() + self.entry.start_timeout;
        loop {
            let page = match self.client.fetch(&uri).await {
                Ok(p) => p,
                Err(CallError::Failed { root, .. }) if status == "ERROR" => {
                    return Err(EngineError::Plan(root));
                }
                Err(CallError::Failed { root, .. }) => return Err(EngineError::Execution(root)),
                Err(e) => return Err(self.unavailable(&e)),
            };
            let ready = page.result_type != "NOT_READY";
            if ready && (!page.columns.is_empty() || page.result_type == "EOS") {
                return Ok((op, page));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Unavailable(format!(
                    "the Flink SQL Gateway of engine `{}` gave no result within {}",
                    self.id,
                    humantime::format_duration(self.entry.start_timeout)
                )));
            }
            if let Some(next) = page.next.filter(|_| ready) {
                uri = next;
            }
            tokio::time::sleep(self.entry.poll_interval).await;
        }
    }

    /// Whether a streaming query's result is append-only, from Flink's own plan
    /// (`EXPLAIN CHANGELOG_MODE`: the root's `changelogMode=[I]`).
    async fn append_only(&self, handle: &Handle, sql: &str) -> Result<bool, EngineError> {
        let (op, page) = self
            .submit(handle, &format!("EXPLAIN CHANGELOG_MODE {sql}"), &[])
            .await?;
        let plan = page
            .data
            .first()
            .and_then(|r| r.get("fields"))
            .and_then(json::Json::as_array)
            .and_then(|f| f.first())
            .and_then(json::Json::as_str)
            .unwrap_or("")
            .to_string();
        if let Err(e) = self.client.close_operation(handle.session(), &op).await {
            tracing::debug!(error = %e, "closing the EXPLAIN operation failed");
        }
        let root = plan
            .split("== Optimized Physical Plan ==")
            .nth(1)
            .and_then(|p| p.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("");
        let mode = root
            .rsplit_once("changelogMode=[")
            .and_then(|(_, m)| m.split(']').next())
            .unwrap_or("I");
        Ok(mode == "I")
    }

    /// The quick part of a start: the declarations of the statement's tables (read from
    /// Kafka and its schema registry) and the statement's session, whose opening proves the
    /// SQL Gateway is reachable ([`EngineError::Unavailable`] when it is not).
    async fn open(
        &self,
        stmt: &RewrittenStatement,
        ctx: &ExecContext,
    ) -> Result<(Arc<Handle>, Vec<(TableRef, String)>), EngineError> {
        let tables = self.declarations(stmt, ctx.snapshot).await?;
        let mut props: Vec<(&str, String)> = vec![
            ("table.local-time-zone", "UTC".into()),
            ("table.dynamic-table-options.enabled", "true".into()),
            ("parallelism.default", self.entry.parallelism.to_string()),
            (
                "table.exec.source.idle-timeout",
                super::idle::flink_value(ctx.scan_idle_timeout),
            ),
        ];
        if ctx.snapshot {
            props.push(("execution.runtime-mode", "batch".into()));
        }
        let name = ctx.name.as_deref().unwrap_or("statement");
        let handle = Handle::open(
            &self.client,
            &format!("sqlgate-{name}"),
            &props,
            self.entry.heartbeat_interval,
            self.entry.cancel_timeout,
        )
        .await
        .map_err(|e| self.unavailable(&e))?;
        Ok((handle, tables))
    }

    /// The slow part of a start, in the session `open` gave: declarations, planning, the
    /// submission and the first page, all within `start_timeout`. On any failure, and when
    /// the returned future is dropped before it ends, the session, operation and job are
    /// stopped.
    async fn finish(
        &self,
        handle: Arc<Handle>,
        stmt: &RewrittenStatement,
        ctx: &ExecContext,
        tables: &[(TableRef, String)],
    ) -> Result<Execution, EngineError> {
        let guard = run::StartGuard::new(&handle);
        let timeout = self.entry.start_timeout;
        let result = tokio::time::timeout(timeout, self.run_in(&handle, stmt, ctx, tables))
            .await
            .unwrap_or_else(|_| {
                Err(EngineError::Unavailable(format!(
                    "Flink (engine `{}`) did not accept the statement within {} \
                     (start_timeout); it was cancelled and nothing of it is left running",
                    self.id,
                    humantime::format_duration(timeout)
                )))
            });
        if result.is_err() {
            handle.stop_now().await;
        }
        guard.disarm();
        result
    }

    async fn run(
        &self,
        stmt: &RewrittenStatement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError> {
        let (handle, tables) = self.open(stmt, ctx).await?;
        self.finish(handle, stmt, ctx, &tables).await
    }

    async fn run_in(
        &self,
        handle: &Arc<Handle>,
        stmt: &RewrittenStatement,
        ctx: &ExecContext,
        tables: &[(TableRef, String)],
    ) -> Result<Execution, EngineError> {
        let current = tables
            .first()
            .map(|(t, _)| (t.catalog.as_str(), t.database.as_str()));
        for s in declare::session_statements(tables, current) {
            self.client
                .configure(handle.session(), &s)
                .await
                .map_err(|e| match e {
                    CallError::Failed { root, .. } => EngineError::Plan(format!(
                        "Flink refused the declaration of the statement's tables: {root}"
                    )),
                    other => self.unavailable(&other),
                })?;
        }
        let sql = match self.policy_sql(stmt).await? {
            Some(sql) => sql,
            None => stmt.sql(),
        };
        let kind = stmt.sql_kind();
        let bounded = ctx.snapshot || tables.is_empty() || kind == "EXPLAIN";
        let append_only = match kind {
            "SELECT" if !bounded => self.append_only(handle, &sql).await?,
            _ => true,
        };
        let mut exec: Vec<(&str, String)> = vec![(
            "pipeline.name",
            format!("sqlgate:{}", ctx.name.as_deref().unwrap_or("statement")),
        )];
        if let Some(tz) = &ctx.local_time_zone {
            exec.push(("table.local-time-zone", tz.clone()));
        }
        let (_op, page) = self.submit(handle, &sql, &exec).await?;
        if let (false, Some(job)) = (page.is_query, page.job_id.clone()) {
            // DML: a job that writes until it ends or is stopped.
            handle.set_job(&job);
            handle.close_session().await;
            tracing::info!(engine = %self.id, job = %job, "Flink job submitted");
            return Ok(Execution {
                traits: Traits {
                    sql_kind: kind.to_string(),
                    is_bounded: ctx.snapshot,
                    is_append_only: true,
                    upsert_columns: None,
                    schema: None,
                },
                rows: run::job_rows(handle.clone(), job),
                cancel: Arc::new(FlinkCancel(handle.clone())),
                listing: None,
            });
        }
        let types: Vec<crate::sql::FlinkType> = page
            .columns
            .iter()
            .map(|(_, t)| values::type_of(t))
            .collect::<Result<_, _>>()
            .map_err(EngineError::Internal)?;
        let columns = page
            .columns
            .iter()
            .zip(&types)
            .map(|((n, _), t)| Column {
                name: n.clone(),
                data_type: t.clone(),
            })
            .collect();
        let decoder = values::Decoder { types };
        let first = page
            .data
            .iter()
            .map(|r| decoder.row(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Internal)?;
        let next = if page.result_type == "EOS" {
            None
        } else {
            page.next
        };
        Ok(Execution {
            traits: Traits {
                sql_kind: kind.to_string(),
                is_bounded: bounded,
                is_append_only: append_only,
                upsert_columns: upsert::upsert_columns(stmt, append_only),
                schema: Some(Schema { columns }),
            },
            rows: run::query_rows(
                handle.clone(),
                decoder,
                first,
                next,
                self.entry.poll_interval,
            ),
            cancel: Arc::new(FlinkCancel(handle.clone())),
            listing: None,
        })
    }
}

#[async_trait::async_trait]
impl Engine for FlinkEngine {
    /// Statements that run on Flink start in two steps: the session is opened here (a SQL
    /// Gateway that cannot be reached is [`EngineError::Unavailable`], nothing left open),
    /// the rest runs as [`Pending::rest`]. sqlgate's own statements run at once.
    async fn start(
        &self,
        stmt: &Arc<RewrittenStatement>,
        ctx: &ExecContext,
    ) -> Result<Start, EngineError> {
        if !ON_FLINK.contains(&stmt.sql_kind()) {
            return Ok(Start::Running(self.execute(stmt, ctx).await?));
        }
        let (handle, tables) = self.open(stmt, ctx).await?;
        let detail = format!(
            "Statement is being submitted to the Flink of compute pool `{}` (engine `{}`)",
            stmt.warrant().placement().compute_pool,
            self.id
        );
        let (me, stmt, ctx) = (self.clone(), stmt.clone(), ctx.clone());
        // Also when the rest is dropped before it is first polled.
        let unpolled = run::StartGuard::new(&handle);
        let rest = async move {
            let result = me.finish(handle, &stmt, &ctx, &tables).await;
            unpolled.disarm();
            result
        };
        Ok(Start::Pending(Pending {
            detail,
            rest: Box::pin(rest),
        }))
    }

    async fn execute(
        &self,
        stmt: &RewrittenStatement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError> {
        let kind = stmt.sql_kind();
        if ON_FLINK.contains(&kind) {
            return self.run(stmt, ctx).await;
        }
        let own = matches!(kind, "CREATE_TABLE" | "DROP_TABLE" | "ALTER_TABLE")
            || kind.starts_with("SHOW_")
            || kind.starts_with("DESCRIBE");
        if !own {
            return Err(EngineError::Unsupported(format!(
                "the Flink engine of this compute pool does not run {kind} statements"
            )));
        }
        if kind == "CREATE_TABLE" {
            self.check_create_readable(stmt)?;
        }
        // The embedded engine's functions are not this pool's: its list would be wrong here.
        if kind == "SHOW_FUNCTIONS" {
            return Err(EngineError::Unsupported(
                "sqlgate answers SHOW statements itself on every compute pool, and it cannot \
                 list the functions of this pool's Flink: SHOW FUNCTIONS is not supported on a \
                 Flink compute pool"
                    .into(),
            ));
        }
        match self.embedded.execute(stmt, ctx).await {
            // The embedded engine's refusal points to Flink, which is not who answers here.
            Err(EngineError::Unsupported(_)) if stmt.is_flink_only() => {
                Err(EngineError::Unsupported(format!(
                    "sqlgate answers {kind} statements itself on every compute pool (tables are \
                     Kafka topics and their schemas, which it owns), and it does not support \
                     this form of {kind} yet"
                )))
            }
            other => other,
        }
    }

    /// The gateway keeps the views of a Flink pool's databases as it does the embedded
    /// engine's (the same store: a view is of a catalog and database, not of an engine); a
    /// view read is expanded into its body before Flink sees the statement, so Flink never
    /// learns a view's name.
    fn runs_gateway_views(&self) -> bool {
        true
    }

    /// Whether the table exists, as sqlgate's Kafka code knows it (the name a view may not
    /// take).
    async fn table_exists(&self, table: &TableRef) -> Result<bool, EngineError> {
        self.embedded.table_exists(table).await
    }

    /// A Kafka-backed table's options and distribution, as sqlgate (which owns the topic and
    /// its schema) keeps them: the same on every compute pool.
    async fn table_definition(
        &self,
        table: &TableRef,
    ) -> Result<Option<super::TableDefinition>, EngineError> {
        self.embedded.table_definition(table).await
    }
}
