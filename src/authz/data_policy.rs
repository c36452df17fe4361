//! Row filters and column masks: `data-policies.toml` of the policy directory, validated with
//! the rest of the policy and versioned with it.
//!
//! ```toml
//! [[row_filter]]
//! name = "orders-eu-only"
//! table = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders"
//! principals = ["User:pool-dev"]   # "*" = everyone
//! except = ["User:pool-admin"]     # optional
//! filter = "region = 'EU' AND tenant = {{claims.tenant}}"
//!
//! [[column_mask]]
//! name = "customers-email"
//! table = "crn://…/topic=customers*"
//! column = "email"
//! principals = ["*"]
//! mask = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))"
//! ```
//!
//! Owns the file's format, its validation (every problem, with the entry's name), and the
//! compiled form the rewrite stage applies ([`DataPolicies::applying`]). `{{principal}}` and
//! `{{claims.NAME}}` are parsed as placeholders, never as text: at rewrite they become string
//! literals in the syntax tree ([`Template::instantiate`]), so a claim value cannot inject
//! SQL; a filter whose claim the token lacks becomes `FALSE`, a mask whose claim is missing
//! becomes `NULL`. Filters and masks may reference only the columns of the row they apply to:
//! no subqueries (which would read tables the decision did not authorize). A mask sees the raw
//! row (a mask that reads another masked column reads its raw value, inside the mask only).
//!
//! A missing file is an empty one. Parsing does not know the tables; a reload then checks each
//! new or changed entry against the tables that exist and that it covers ([`fit`]), and the
//! engine checks a mask's column and the columns a filter names again when a statement reads
//! the table, refusing the statement if they do not match (fail closed).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Query, Value, ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use serde::Deserialize;

use crate::catalog::{Crn, CrnPattern};
use crate::sql::FlinkDialect;

pub(crate) mod fit;
mod index;

use index::PatternIndex;

/// The file's name inside the policy directory.
pub(super) const DATA_POLICIES_FILE: &str = "data-policies.toml";

/// The identifier a placeholder is parsed as; no entry may contain it itself.
const PARAM_PREFIX: &str = "__sqlgate_param_";

/// The claims of the caller's verified token that a template may use (string, number and
/// boolean claims, as text).
pub type Claims = BTreeMap<String, String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    row_filter: Vec<FilterEntry>,
    #[serde(default)]
    column_mask: Vec<MaskEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterEntry {
    name: String,
    table: String,
    principals: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    filter: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskEntry {
    name: String,
    table: String,
    column: String,
    principals: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    mask: String,
}

/// What a placeholder stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Principal,
    Claim(String),
}

/// A filter or mask expression with its placeholders.
#[derive(Debug, Clone)]
pub struct Template {
    expr: Expr,
    params: Vec<Param>,
}

impl Template {
    /// The expression for a caller: each placeholder a string literal; `None` when a claim
    /// it needs is missing.
    pub fn instantiate(&self, principal: &str, claims: &Claims) -> Option<Expr> {
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            values.push(match p {
                Param::Principal => principal.to_string(),
                Param::Claim(c) => claims.get(c)?.clone(),
            });
        }
        let mut expr = self.expr.clone();
        let _ = VisitMut::visit(&mut expr, &mut Substitute { values: &values });
        Some(expr)
    }

    /// The expression for a caller with every claim it lacks as `''`, and whether one was
    /// lacking (then the statement's mask is `NULL`): for the mask's type (DESCRIBE).
    pub fn instantiate_for_type(&self, principal: &str, claims: &Claims) -> (Expr, bool) {
        let mut missing = false;
        let values: Vec<String> = self
            .params
            .iter()
            .map(|p| match p {
                Param::Principal => principal.to_string(),
                Param::Claim(c) => claims.get(c).cloned().unwrap_or_else(|| {
                    missing = true;
                    String::new()
                }),
            })
            .collect();
        let mut expr = self.expr.clone();
        let _ = VisitMut::visit(&mut expr, &mut Substitute { values: &values });
        (expr, missing)
    }

    /// The expression with placeholders as written (`{{claims.tenant}}`), for explanations.
    pub fn display(&self) -> String {
        let mut text = self.expr.to_string();
        for (i, p) in self.params.iter().enumerate().rev() {
            let shown = match p {
                Param::Principal => "{{principal}}".to_string(),
                Param::Claim(c) => format!("{{{{claims.{c}}}}}"),
            };
            text = text.replace(&format!("{PARAM_PREFIX}{i}"), &shown);
        }
        text
    }

    /// The columns the expression names (the last part of each column reference).
    pub fn columns(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let _ = self.expr.visit(&mut Columns(&mut out));
        out
    }
}

struct Substitute<'a> {
    values: &'a [String],
}

impl VisitorMut for Substitute<'_> {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Identifier(Ident {
            value,
            quote_style: None,
            ..
        }) = expr
            && let Some(i) = value.strip_prefix(PARAM_PREFIX)
            && let Some(v) = i.parse::<usize>().ok().and_then(|i| self.values.get(i))
        {
            *expr = Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(v.clone())));
        }
        ControlFlow::Continue(())
    }
}

struct Columns<'a>(&'a mut BTreeSet<String>);

impl Visitor for Columns<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(i) if !i.value.starts_with(PARAM_PREFIX) => {
                self.0.insert(i.value.clone());
            }
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last() {
                    self.0.insert(last.value.clone());
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Who an entry applies to.
#[derive(Debug, Clone)]
struct Applies {
    principals: Vec<String>,
    except: Vec<String>,
}

impl Applies {
    fn to(&self, principal: &str) -> bool {
        !self.except.iter().any(|e| e == principal)
            && self.principals.iter().any(|p| p == "*" || p == principal)
    }
}

/// A row filter: rows of the table for which it is not true are not there for the caller.
#[derive(Debug, Clone)]
pub struct RowFilter {
    /// Its name (explanations, audit).
    pub name: String,
    /// The tables it covers.
    pub table: CrnPattern,
    applies: Applies,
    /// The condition.
    pub filter: Template,
}

impl RowFilter {
    /// What the entry is as far as a table's fit goes: name, tables, expression.
    pub(crate) fn fit_key(&self) -> String {
        format!(
            "row_filter\0{}\0{}\0{}",
            self.name,
            self.table,
            self.filter.display()
        )
    }
}

/// A column mask: the caller sees the mask's value in place of the column's.
#[derive(Debug, Clone)]
pub struct ColumnMask {
    /// Its name (explanations, audit).
    pub name: String,
    /// The tables it covers.
    pub table: CrnPattern,
    /// The masked column.
    pub column: String,
    applies: Applies,
    /// The value shown instead.
    pub mask: Template,
}

impl ColumnMask {
    /// What the entry is as far as a table's fit goes: name, tables, column, expression.
    pub(crate) fn fit_key(&self) -> String {
        format!(
            "column_mask\0{}\0{}\0{}\0{}",
            self.name,
            self.table,
            self.column,
            self.mask.display()
        )
    }
}

/// Every row filter and column mask of one policy version.
#[derive(Debug, Clone, Default)]
pub struct DataPolicies {
    filters: Vec<RowFilter>,
    masks: Vec<ColumnMask>,
    /// `filters` by table pattern.
    filter_index: PatternIndex,
    /// `masks` by table pattern.
    mask_index: PatternIndex,
}

/// The filters and masks that apply to one caller's reads of one table.
#[derive(Debug, Default)]
pub struct Applying<'a> {
    /// ANDed.
    pub filters: Vec<&'a RowFilter>,
    /// At most one per column (validation refuses two that could meet).
    pub masks: Vec<&'a ColumnMask>,
}

impl Applying<'_> {
    /// Whether nothing applies.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.masks.is_empty()
    }
}

impl DataPolicies {
    /// How many entries, filters and masks together.
    pub fn len(&self) -> usize {
        self.filters.len() + self.masks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What applies to `principal` reading the table at `crn` (through the index: the entries
    /// covering `crn`, in file order, then those that apply to `principal`).
    pub fn applying(&self, principal: &str, crn: &Crn) -> Applying<'_> {
        if self.is_empty() {
            return Applying::default();
        }
        Applying {
            filters: self
                .filter_index
                .covering(crn)
                .into_iter()
                .filter_map(|i| self.filters.get(i))
                .filter(|f| f.applies.to(principal))
                .collect(),
            masks: self
                .mask_index
                .covering(crn)
                .into_iter()
                .filter_map(|i| self.masks.get(i))
                .filter(|m| m.applies.to(principal))
                .collect(),
        }
    }

    /// Every entry covering the table at `crn`, whoever it applies to (fit checks).
    pub fn covering_all(&self, crn: &Crn) -> (Vec<&RowFilter>, Vec<&ColumnMask>) {
        (
            self.filter_index
                .covering(crn)
                .into_iter()
                .filter_map(|i| self.filters.get(i))
                .collect(),
            self.mask_index
                .covering(crn)
                .into_iter()
                .filter_map(|i| self.masks.get(i))
                .collect(),
        )
    }

    /// Whether any entry covers the table at `crn`.
    pub fn covers(&self, crn: &Crn) -> bool {
        !self.filter_index.covering(crn).is_empty() || !self.mask_index.covering(crn).is_empty()
    }

    /// Every entry as written, for what a table fits ([`fit::Misfit`]): an entry whose key
    /// is among the policy in force's is not new.
    pub fn fit_keys(&self) -> BTreeSet<String> {
        self.filters
            .iter()
            .map(RowFilter::fit_key)
            .chain(self.masks.iter().map(ColumnMask::fit_key))
            .collect()
    }

    /// [`Self::applying`] by a scan of every entry: what the index must agree with (tests).
    #[cfg(test)]
    fn applying_linear(&self, principal: &str, crn: &Crn) -> Applying<'_> {
        Applying {
            filters: self
                .filters
                .iter()
                .filter(|f| f.table.covers(crn) && f.applies.to(principal))
                .collect(),
            masks: self
                .masks
                .iter()
                .filter(|m| m.table.covers(crn) && m.applies.to(principal))
                .collect(),
        }
    }

    /// Parses and validates `text` as a whole file, without table checks (unit tests).
    #[cfg(test)]
    pub(crate) fn from_toml(text: &str) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let p = Self::parse(text, &|_| Ok(()), &mut problems);
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }

    /// Parses and validates `text` (the file's content; empty when there is none), pushing
    /// every problem as `data-policies.toml: …` onto `problems`.
    pub(super) fn parse(
        text: &str,
        check_pattern: &dyn Fn(&CrnPattern) -> Result<(), String>,
        problems: &mut Vec<String>,
    ) -> Self {
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!(
                    "{DATA_POLICIES_FILE}: {}",
                    e.to_string().trim_end()
                ));
                return Self::default();
            }
        };
        let mut out = Self::default();
        let mut names = BTreeSet::new();
        let mut bad = |kind: &str, name: &str, msg: &str| {
            problems.push(format!("{DATA_POLICIES_FILE}: {kind} `{name}`: {msg}"));
        };
        let entries = file
            .row_filter
            .iter()
            .map(|f| ("row_filter", &f.name))
            .chain(file.column_mask.iter().map(|m| ("column_mask", &m.name)));
        for (kind, name) in entries {
            if name.trim().is_empty() {
                bad(kind, name, "has an empty name");
            } else if !names.insert(name.clone()) {
                bad(kind, name, "another entry has the same name");
            }
        }
        for f in file.row_filter {
            let kind = "row_filter";
            let table = common(&f.table, &f.principals, &f.except, check_pattern);
            let filter = template(&f.filter);
            match (table, filter) {
                (Ok(table), Ok(filter)) => out.filters.push(RowFilter {
                    name: f.name,
                    table,
                    applies: Applies {
                        principals: f.principals,
                        except: f.except,
                    },
                    filter,
                }),
                (t, e) => {
                    for msg in [t.err(), e.err().map(|m| format!("filter: {m}"))]
                        .into_iter()
                        .flatten()
                    {
                        bad(kind, &f.name, &msg);
                    }
                }
            }
        }
        for m in file.column_mask {
            let kind = "column_mask";
            let table = common(&m.table, &m.principals, &m.except, check_pattern);
            let mask = template(&m.mask);
            let column = check_column(&m.column);
            match (table, mask, column) {
                (Ok(table), Ok(mask), Ok(())) => out.masks.push(ColumnMask {
                    name: m.name,
                    table,
                    column: m.column,
                    applies: Applies {
                        principals: m.principals,
                        except: m.except,
                    },
                    mask,
                }),
                (t, e, c) => {
                    for msg in [t.err(), e.err().map(|m| format!("mask: {m}")), c.err()]
                        .into_iter()
                        .flatten()
                    {
                        bad(kind, &m.name, &msg);
                    }
                }
            }
        }
        for (i, a) in out.masks.iter().enumerate() {
            for b in &out.masks[..i] {
                if a.column == b.column
                    && patterns_meet(&a.table, &b.table)
                    && principals_meet(&a.applies, &b.applies)
                {
                    bad(
                        "column_mask",
                        &a.name,
                        &format!(
                            "masks column `{}` of tables that mask `{}` masks too, for some of \
                             the same principals (at most one mask per column)",
                            a.column, b.name
                        ),
                    );
                }
            }
        }
        out.filter_index = PatternIndex::new(out.filters.iter().map(|f| &f.table));
        out.mask_index = PatternIndex::new(out.masks.iter().map(|m| &m.table));
        out
    }
}

/// The checks shared by both kinds: the table pattern and the principals.
fn common(
    table: &str,
    principals: &[String],
    except: &[String],
    check_pattern: &dyn Fn(&CrnPattern) -> Result<(), String>,
) -> Result<CrnPattern, String> {
    let pattern: CrnPattern = table.parse().map_err(|e| format!("table: {e}"))?;
    if pattern.segments().last().map(|(k, _)| k.as_str()) != Some("topic") {
        return Err(format!(
            "table: `{table}` does not name tables (its last segment must be `topic=…`)"
        ));
    }
    check_pattern(&pattern).map_err(|e| format!("table: {e}"))?;
    if principals.is_empty() {
        return Err("principals: empty (use [\"*\"] for everyone)".into());
    }
    for p in principals.iter().chain(except).filter(|p| *p != "*") {
        crate::auth::principal_id::check(p).map_err(|e| format!("principals: {e}"))?;
    }
    if except.iter().any(|p| p == "*") {
        return Err("except: `*` would exempt everyone".into());
    }
    Ok(pattern)
}

fn check_column(column: &str) -> Result<(), String> {
    if column.trim().is_empty() {
        return Err("column: empty".into());
    }
    if column == crate::kafka::layout::ROWTIME {
        return Err(format!(
            "column: `{column}` is the time attribute of every table; masking it would turn it \
             into a plain timestamp and break windows and temporal joins"
        ));
    }
    Ok(())
}

/// Parses a filter or mask: its placeholders, then the expression.
fn template(text: &str) -> Result<Template, String> {
    if text.contains(PARAM_PREFIX) {
        return Err(format!("`{PARAM_PREFIX}` is reserved"));
    }
    let mut params = Vec::new();
    let mut sql = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        sql.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("`{{` without a closing `}}`".into());
        };
        let inner = after[..end].trim();
        let param = if inner == "principal" {
            Param::Principal
        } else if let Some(c) = inner.strip_prefix("claims.")
            && !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_-.:/".contains(ch))
        {
            Param::Claim(c.to_string())
        } else {
            return Err(format!(
                "unknown placeholder `{{{{{inner}}}}}` (use {{{{principal}}}} or \
                 {{{{claims.NAME}}}})"
            ));
        };
        sql.push_str(&format!(" {PARAM_PREFIX}{} ", params.len()));
        params.push(param);
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return Err("`}}` without an opening `{{`".into());
    }
    sql.push_str(rest);
    let expr = parse_expr(&sql)?;
    if expr.visit(&mut NoSubquery).is_break() {
        return Err("subqueries are not allowed (a filter or mask reads its own row only)".into());
    }
    Ok(Template { expr, params })
}

fn parse_expr(sql: &str) -> Result<Expr, String> {
    let dialect = FlinkDialect;
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .map_err(|e| format!("not an SQL expression: {e}"))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("not an SQL expression: {e}"))?;
    match parser.peek_token().token {
        Token::EOF => Ok(expr),
        t => Err(format!(
            "not one SQL expression: `{t}` follows the expression"
        )),
    }
}

struct NoSubquery;

impl Visitor for NoSubquery {
    type Break = ();
    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        ControlFlow::Break(())
    }
}

/// Whether two table patterns can cover one table.
fn patterns_meet(a: &CrnPattern, b: &CrnPattern) -> bool {
    let (sa, sb) = (a.to_string(), b.to_string());
    let stem = |s: &str, p: &CrnPattern| {
        if p.is_prefixed() {
            s.strip_suffix('*').unwrap_or(s).to_string()
        } else {
            s.to_string()
        }
    };
    let (ta, tb) = (stem(&sa, a), stem(&sb, b));
    sa == sb || (a.is_prefixed() && tb.starts_with(&ta)) || (b.is_prefixed() && ta.starts_with(&tb))
}

/// Whether two entries can apply to one principal.
fn principals_meet(a: &Applies, b: &Applies) -> bool {
    let wild = |x: &Applies| x.principals.iter().any(|p| p == "*");
    wild(a) || wild(b) || a.principals.iter().any(|p| b.principals.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str =
        "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders";

    fn parse(text: &str) -> Result<DataPolicies, Vec<String>> {
        let mut problems = Vec::new();
        let p = DataPolicies::parse(text, &|_| Ok(()), &mut problems);
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }

    #[test]
    fn placeholders_become_literals_and_a_missing_claim_none() {
        let t = template("tenant = {{claims.tenant}} OR owner = {{ principal }}").unwrap();
        let claims = Claims::from([("tenant".to_string(), "a' OR '1'='1".to_string())]);
        let e = t.instantiate("User:x", &claims).unwrap();
        assert_eq!(
            e.to_string(),
            "tenant = 'a'' OR ''1''=''1' OR owner = 'User:x'"
        );
        assert!(t.instantiate("User:x", &Claims::new()).is_none());
        assert_eq!(
            t.display(),
            "tenant = {{claims.tenant}} OR owner = {{principal}}"
        );
        assert_eq!(
            t.columns(),
            BTreeSet::from(["owner".to_string(), "tenant".to_string()])
        );
    }

    #[test]
    fn every_problem_is_reported_with_the_entry() {
        let text = format!(
            r#"
[[row_filter]]
name = "f1"
table = "{T}"
principals = ["*"]
filter = "region = 'EU' AND"

[[row_filter]]
name = "f2"
table = "{T}"
principals = ["*"]
filter = "tenant = {{{{claim.tenant}}}}"

[[row_filter]]
name = "f3"
table = "{T}"
principals = ["*"]
filter = "id IN (SELECT id FROM other)"

[[column_mask]]
name = "m1"
table = "{T}"
column = "email"
principals = ["*"]
mask = "'x'"

[[column_mask]]
name = "m2"
table = "{}"
column = "email"
principals = ["User:a"]
mask = "NULL"

[[column_mask]]
name = "m3"
table = "{T}"
column = "$rowtime"
principals = ["*"]
mask = "NULL"
"#,
            T.replace("orders", "ord*")
        );
        let problems = parse(&text).unwrap_err();
        let all = problems.join("\n");
        assert_eq!(problems.len(), 5, "{all}");
        assert!(
            all.contains("row_filter `f1`: filter: not an SQL expression"),
            "{all}"
        );
        assert!(
            all.contains("row_filter `f2`: filter: unknown placeholder `{{claim.tenant}}`"),
            "{all}"
        );
        assert!(
            all.contains("row_filter `f3`: filter: subqueries are not allowed"),
            "{all}"
        );
        assert!(
            all.contains(
                "column_mask `m2`: masks column `email` of tables that mask `m1` masks too"
            ),
            "{all}"
        );
        assert!(
            all.contains("column_mask `m3`: column: `$rowtime` is the time attribute"),
            "{all}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_tables_are_refused() {
        let e = parse(
            "[[row_filter]]\nname='a'\ntable='x'\nprincipals=['*']\nfilter='true'\nwhere='y'\n",
        )
        .unwrap_err();
        assert!(e[0].contains("unknown field `where`"), "{e:?}");
        let e = parse(&format!(
            "[[row_filter]]\nname='a'\ntable='{}'\nprincipals=['*']\nexcept=['*']\nfilter='true'\n",
            T.replace("/topic=orders", "")
        ))
        .unwrap_err();
        assert!(e[0].contains("does not name tables"), "{e:?}");
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn applying_honours_principals_and_except() {
        let p = parse(&format!(
            "[[row_filter]]\nname='a'\ntable='{T}'\nprincipals=['*']\nexcept=['User:admin']\nfilter='true'\n"
        ))
        .unwrap();
        let crn = Crn::organization("o")
            .environment("e")
            .cluster("k")
            .topic("orders");
        assert_eq!(p.applying("User:x", &crn).filters.len(), 1);
        assert!(p.applying("User:admin", &crn).is_empty());
        let other = Crn::organization("o")
            .environment("e")
            .cluster("k")
            .topic("ordersx");
        assert!(p.applying("User:x", &other).is_empty());
    }

    fn names(a: &Applying<'_>) -> (Vec<String>, Vec<String>) {
        (
            a.filters.iter().map(|f| f.name.clone()).collect(),
            a.masks.iter().map(|m| m.name.clone()).collect(),
        )
    }

    #[test]
    fn the_index_still_applies_literal_and_prefixed_patterns_and_except_still_exempts() {
        let pre = T.replace("orders", "ord*");
        let p = parse(&format!(
            "[[row_filter]]\nname='lit'\ntable='{T}'\nprincipals=['User:x']\nfilter='true'\n\
             [[row_filter]]\nname='pre'\ntable='{pre}'\nprincipals=['*']\nexcept=['User:admin']\nfilter='true'\n\
             [[column_mask]]\nname='m'\ntable='{pre}'\ncolumn='c'\nprincipals=['*']\nexcept=['User:admin']\nmask='NULL'\n"
        ))
        .unwrap();
        let crn = |t: &str| {
            Crn::organization("o")
                .environment("e")
                .cluster("k")
                .topic(t)
        };
        let x = p.applying("User:x", &crn("orders"));
        assert_eq!(
            names(&x),
            (vec!["lit".into(), "pre".into()], vec!["m".into()])
        );
        assert_eq!(
            names(&p.applying("User:y", &crn("ordinal"))),
            (vec!["pre".to_string()], vec!["m".to_string()])
        );
        assert!(p.applying("User:admin", &crn("ordinal")).is_empty());
        assert_eq!(names(&p.applying("User:admin", &crn("orders"))).0.len(), 0);
        assert!(p.applying("User:x", &crn("or")).is_empty());
    }

    proptest::proptest! {
        /// Random policy sets (literal and prefixed tables of two environments, principals
        /// `*` and named, `except`): the index and the linear scan agree on every probe.
        #[test]
        fn applying_through_the_index_equals_the_linear_scan(
            entries in proptest::collection::vec(
                (proptest::bool::ANY, 0usize..2, 0usize..6, 0usize..4, 0usize..4),
                0..60,
            ),
            probes in proptest::collection::vec((0usize..4, 0usize..2, 0usize..6), 1..30),
        ) {
            const TOPICS: [&str; 6] = ["orders", "ord*", "o*", "orders-eu", "customers", "*"];
            const WHO: [&[&str]; 4] = [&["*"], &["User:a"], &["User:a", "User:b"], &["User:c"]];
            const EXCEPT: [&[&str]; 4] = [&[], &["User:a"], &["User:b", "User:c"], &["User:d"]];
            const PROBE_TOPICS: [&str; 6] = ["orders", "ord", "orders-eu", "o", "customers", "x"];
            const PROBE_WHO: [&str; 4] = ["User:a", "User:b", "User:c", "User:d"];
            let list = |xs: &[&str]| {
                xs.iter().map(|x| format!("'{x}'")).collect::<Vec<_>>().join(",")
            };
            let mut text = String::new();
            for (i, (is_filter, env, topic, who, except)) in entries.iter().enumerate() {
                let table = T
                    .replace("environment=e", &format!("environment=e{env}"))
                    .replace("orders", TOPICS[*topic]);
                let (principals, except) = (list(WHO[*who]), list(EXCEPT[*except]));
                if *is_filter {
                    text.push_str(&format!(
                        "[[row_filter]]\nname='f{i}'\ntable='{table}'\nprincipals=[{principals}]\n\
                         except=[{except}]\nfilter='c{i} = 1'\n"
                    ));
                } else {
                    text.push_str(&format!(
                        "[[column_mask]]\nname='m{i}'\ntable='{table}'\ncolumn='c{i}'\n\
                         principals=[{principals}]\nexcept=[{except}]\nmask='NULL'\n"
                    ));
                }
            }
            let p = parse(&text).unwrap();
            proptest::prop_assert_eq!(p.len(), entries.len());
            for (who, env, topic) in probes {
                let crn = Crn::organization("o")
                    .environment(&format!("e{env}"))
                    .cluster("k")
                    .topic(PROBE_TOPICS[topic]);
                let principal = PROBE_WHO[who];
                proptest::prop_assert_eq!(
                    names(&p.applying(principal, &crn)),
                    names(&p.applying_linear(principal, &crn)),
                    "{} {}", principal, crn
                );
            }
        }
    }
}
