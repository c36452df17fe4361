//! The canonical JSON the file sink writes and the hash chain is over. Moved from `record.rs`
//! unchanged.

use super::*;

/// The canonical JSON of a value: object keys sorted (by UTF-8 bytes), no whitespace, strings
/// and numbers as `serde_json` writes them. The file sink writes every line in this form, and
/// the chain hash is over it, so a line can be checked byte for byte.
///
/// ```
/// let v = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
/// assert_eq!(sqlgate::audit::canonical_json(&v), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The chain hash of a record given as JSON: hex SHA-256 of [`canonical_json`] of the record
/// without its `sqlgatehash` attribute.
pub fn record_hash(record: &Value) -> String {
    let mut without = record.clone();
    if let Value::Object(map) = &mut without {
        map.remove("sqlgatehash");
    }
    hex::encode(Sha256::digest(canonical_json(&without).as_bytes()))
}
