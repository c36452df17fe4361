//! Flink's string and JSON functions the embedded engine lacks: `REGEXP_EXTRACT`,
//! `SPLIT_INDEX`, `JSON_VALUE` and `JSON_QUERY` (lax paths `$`, `.key`, `['key']`, `[n]`;
//! NULL on an empty result or an error, Flink's defaults).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use serde_json::Value;

use super::{arrays, int_at, result, str_at};

pub(super) fn register(ctx: &SessionContext) {
    for (name, arities) in [
        ("regexp_extract", &[2usize, 3][..]),
        ("split_index", &[3][..]),
        ("json_value", &[2][..]),
        ("json_query", &[2][..]),
    ] {
        ctx.register_udf(ScalarUDF::from(Text::new(name, arities)));
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Text {
    name: &'static str,
    signature: Signature,
}

impl Text {
    fn new(name: &'static str, arities: &[usize]) -> Self {
        let sigs = arities
            .iter()
            .map(|&n| {
                let mut types = vec![DataType::Utf8; n];
                if matches!(name, "regexp_extract" | "split_index") && n == 3 {
                    types[2] = DataType::Int64;
                }
                TypeSignature::Exact(types)
            })
            .collect();
        Self {
            name,
            signature: Signature::one_of(sigs, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Text {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let (a, scalar) = arrays(&args)?;
        let rows = a[0].len();
        let mut b = StringBuilder::new();
        for i in 0..rows {
            let value = match self.name {
                "regexp_extract" => {
                    let group = a.get(2).map_or(Some(0), |g| int_at(g, i));
                    match (str_at(&a[0], i), str_at(&a[1], i), group) {
                        (Some(s), Some(re), Some(g)) => regexp_extract(s, re, g)?,
                        _ => None,
                    }
                }
                "split_index" => match (str_at(&a[0], i), str_at(&a[1], i), int_at(&a[2], i)) {
                    (Some(s), Some(sep), Some(n)) if n >= 0 && !sep.is_empty() => {
                        s.split(sep).nth(n as usize).map(str::to_string)
                    }
                    _ => None,
                },
                _ => match (str_at(&a[0], i), str_at(&a[1], i)) {
                    (Some(j), Some(p)) => json(self.name == "json_query", j, p)?,
                    _ => None,
                },
            };
            match value {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            }
        }
        result(Arc::new(b.finish()) as ArrayRef, scalar)
    }
}

/// Group `group` (0: the whole match) of the first match of `re` in `s`; NULL when there is
/// no match or the group does not exist, as Flink.
fn regexp_extract(s: &str, re: &str, group: i64) -> DfResult<Option<String>> {
    let re = regex::Regex::new(re).map_err(|e| {
        DataFusionError::Execution(format!(
            "REGEXP_EXTRACT: the embedded engine cannot use the pattern `{re}`: {}",
            e.to_string().lines().last().unwrap_or("invalid")
        ))
    })?;
    let Ok(group) = usize::try_from(group) else {
        return Ok(None);
    };
    Ok(re
        .captures(s)
        .and_then(|c| c.get(group))
        .map(|m| m.as_str().to_string()))
}

/// One step of a JSON path.
enum Step {
    Key(String),
    Index(usize),
}

/// `$`, `.key`, `['key']` / `["key"]`, `[n]`; anything else is refused by name.
fn parse_path(path: &str) -> DfResult<Vec<Step>> {
    let unsupported = || {
        DataFusionError::Execution(format!(
            "the embedded engine does not support the JSON path `{path}` (it reads $, .key, ['key'] and [n])"
        ))
    };
    let p = path.trim();
    let p = p.strip_prefix("lax ").unwrap_or(p).trim_start();
    let mut rest = p.strip_prefix('$').ok_or_else(unsupported)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key == "*" {
                return Err(unsupported());
            }
            steps.push(Step::Key(key.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(unsupported)?;
            let inside = r[..end].trim();
            if let Some(q) = inside
                .strip_prefix('\'')
                .and_then(|q| q.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|q| q.strip_suffix('"')))
            {
                steps.push(Step::Key(q.to_string()));
            } else {
                steps.push(Step::Index(inside.parse().map_err(|_| unsupported())?));
            }
            rest = &r[end + 1..];
        } else {
            return Err(unsupported());
        }
    }
    Ok(steps)
}

/// JSON_VALUE (a scalar as text) or JSON_QUERY (an object or array as JSON text).
fn json(query: bool, text: &str, path: &str) -> DfResult<Option<String>> {
    let steps = parse_path(path)?;
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return Ok(None); // NULL ON ERROR
    };
    let mut at = &doc;
    for step in &steps {
        let next = match step {
            Step::Key(k) => at.get(k),
            Step::Index(n) => at.get(n),
        };
        match next {
            Some(v) => at = v,
            None => return Ok(None), // NULL ON EMPTY
        }
    }
    Ok(match (query, at) {
        (_, Value::Null) => None,
        (false, Value::String(s)) => Some(s.clone()),
        (false, Value::Bool(b)) => Some(b.to_string()),
        (false, Value::Number(n)) => Some(n.to_string()),
        (false, _) => None, // not a scalar: an error, NULL ON ERROR
        (true, v @ (Value::Object(_) | Value::Array(_))) => Some(v.to_string()),
        (true, _) => None, // a scalar: an error without a wrapper, NULL ON ERROR
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexp_extract_is_flinks() {
        assert_eq!(
            regexp_extract("foothebar", "foo(.*?)(bar)", 2)
                .unwrap()
                .as_deref(),
            Some("bar")
        );
        assert_eq!(
            regexp_extract("foothebar", "foo(.*?)(bar)", 0)
                .unwrap()
                .as_deref(),
            Some("foothebar")
        );
        assert_eq!(regexp_extract("x", "foo(.*)", 1).unwrap(), None);
        assert_eq!(regexp_extract("foo", "foo", 3).unwrap(), None);
        assert!(regexp_extract("a", "(?<=a)b", 0).is_err());
    }

    #[test]
    fn json_paths() {
        let doc = r#"{"a": {"b": [10, {"c": "x"}], "t": true}, "k.e": 1}"#;
        assert_eq!(json(false, doc, "$.a.b[0]").unwrap().as_deref(), Some("10"));
        assert_eq!(
            json(false, doc, "$.a.b[1].c").unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(json(false, doc, "$.a.t").unwrap().as_deref(), Some("true"));
        assert_eq!(json(false, doc, "$['k.e']").unwrap().as_deref(), Some("1"));
        assert_eq!(json(false, doc, "$.a").unwrap(), None);
        assert_eq!(json(false, doc, "$.nope").unwrap(), None);
        assert_eq!(json(false, "not json", "$.a").unwrap(), None);
        assert_eq!(
            json(true, doc, "$.a.b").unwrap().as_deref(),
            Some(r#"[10,{"c":"x"}]"#)
        );
        assert_eq!(json(true, doc, "$.a.t").unwrap(), None);
        assert!(json(false, doc, "$..a").is_err());
    }
}
