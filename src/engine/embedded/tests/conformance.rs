//! The function conformance table (`tests/fixtures/functions/conformance.tsv`): every row's
//! expression run on the embedded engine, parsed as the gateway parses it, must give Flink's
//! documented result, or be refused with the detail the row names.

use super::*;

const TABLE: &str = include_str!("../../../../tests/fixtures/functions/conformance.tsv");

/// (function, expression, Flink's result) of each row.
fn rows() -> Vec<(&'static str, &'static str, &'static str)> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "four columns: {l}");
            (f[0], f[1], f[2])
        })
        .collect()
}

#[tokio::test]
async fn every_function_of_the_conformance_table_answers_as_flink_documents() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let mut wrong = Vec::new();
    let table = rows();
    assert!(table.len() >= 40, "{} rows", table.len());
    for (function, expression, flink) in &table {
        let sql = format!("SELECT {expression}");
        let stmt = Parser::parse_sql(&crate::sql::FlinkDialect, &sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .remove(0);
        let got = match engine.execute_statement(&stmt, &ctx()).await {
            Ok(exec) => {
                let batches: Vec<Vec<ResultRow>> = match exec.rows.try_collect().await {
                    Ok(b) => b,
                    Err(e) => {
                        wrong.push(format!(
                            "{function}: {sql}: failed while running: {}",
                            e.detail()
                        ));
                        continue;
                    }
                };
                match batches.into_iter().flatten().next().map(|r| r.row) {
                    Some(row) => match &row[0] {
                        Value::Null => "NULL".to_string(),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    None => "no row".to_string(),
                }
            }
            Err(e) => format!("!refused {}", e.detail()),
        };
        let ok = match flink.strip_prefix("!refused ") {
            Some(text) => got.starts_with("!refused") && got.contains(text),
            None => got == *flink,
        };
        if !ok {
            wrong.push(format!("{function}: {sql}: Flink {flink}, embedded {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows differ:\n{}",
        wrong.len(),
        table.len(),
        wrong.join("\n")
    );
}
