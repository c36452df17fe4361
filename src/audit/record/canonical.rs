//! The canonical JSON the file sink writes and the hash chain is over.
//!
//! Written straight into one byte buffer: keys and scalars go through `serde_json`'s own
//! writer (the bytes `Value`'s `Display` produces, without a `String` per key and scalar), and
//! [`hashed_line`] gives a record's hash and its line from one serialization of its
//! attributes, without copying the record to drop `sqlgatehash`.

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
    let mut out = Vec::with_capacity(1024);
    write_canonical(value, &mut out);
    into_string(out)
}

/// The bytes are `serde_json` output and ASCII punctuation: always UTF-8.
fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// One string or scalar exactly as `Value`'s `Display` writes it (`serde_json::to_writer`).
fn write_scalar<T: Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Writing a string, number, bool or null into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

fn sorted(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in sorted(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(k.as_str(), out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// The chain hash of a record given as JSON: hex SHA-256 of [`canonical_json`] of the record
/// without its `sqlgatehash` attribute.
pub fn record_hash(record: &Value) -> String {
    match record {
        Value::Object(map) => hashed_line(map).0,
        other => hex::encode(Sha256::digest(canonical_json(other).as_bytes())),
    }
}

/// A record's chain hash (as [`record_hash`]) and its canonical line with `sqlgatehash` set to
/// that hash (as [`canonical_json`] of the record with the hash inserted), from one
/// serialization of its attributes. Any `sqlgatehash` in `map` is ignored.
pub(crate) fn hashed_line(map: &serde_json::Map<String, Value>) -> (String, String) {
    const HASH_KEY: &str = "sqlgatehash";
    // Each attribute once: `"key":value`, in canonical order, without the hash.
    let mut body = Vec::with_capacity(1024);
    let mut ends = Vec::with_capacity(map.len());
    let mut hash_at = None;
    body.push(b'{');
    for (k, v) in sorted(map) {
        if k == HASH_KEY {
            continue;
        }
        if hash_at.is_none() && k.as_bytes() > HASH_KEY.as_bytes() {
            hash_at = Some(ends.len());
        }
        if !ends.is_empty() {
            body.push(b',');
        }
        write_scalar(k.as_str(), &mut body);
        body.push(b':');
        write_canonical(v, &mut body);
        ends.push(body.len());
    }
    body.push(b'}');
    let hash = hex::encode(Sha256::digest(&body));
    // The line: the same bytes with `"sqlgatehash":"<hash>"` at its sorted place.
    let mut entry = Vec::with_capacity(HASH_KEY.len() + hash.len() + 6);
    write_scalar(HASH_KEY, &mut entry);
    entry.push(b':');
    write_scalar(hash.as_str(), &mut entry);
    let mut line = Vec::with_capacity(body.len() + entry.len() + 2);
    match hash_at {
        // Before the attribute at index `i`: after the comma that ends attribute `i - 1`.
        Some(i) => {
            let split = if i == 0 { 1 } else { ends[i - 1] + 1 };
            line.extend_from_slice(&body[..split]);
            line.extend_from_slice(&entry);
            line.push(b',');
            line.extend_from_slice(&body[split..]);
        }
        None => {
            line.extend_from_slice(&body[..body.len() - 1]);
            if !ends.is_empty() {
                line.push(b',');
            }
            line.extend_from_slice(&entry);
            line.push(b'}');
        }
    }
    (hash, into_string(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The serialization as it was before this module wrote into one buffer: the reference
    /// the chain's existing files were written with.
    fn reference(value: &Value) -> String {
        fn write(value: &Value, out: &mut String) {
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
                        write(v, out);
                    }
                    out.push('}');
                }
                Value::Array(items) => {
                    out.push('[');
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write(v, out);
                    }
                    out.push(']');
                }
                scalar => out.push_str(&scalar.to_string()),
            }
        }
        let mut out = String::new();
        write(value, &mut out);
        out
    }

    fn reference_hash(record: &Value) -> String {
        let mut without = record.clone();
        if let Value::Object(map) = &mut without {
            map.remove("sqlgatehash");
        }
        hex::encode(Sha256::digest(reference(&without).as_bytes()))
    }

    fn samples() -> Vec<Value> {
        vec![
            json!({}),
            json!({"sqlgatehash": "stale"}),
            json!({"a": 1}),
            json!({"zzz": 1}),
            json!({"sqlgatehash": "x", "sqlgateseq": 3, "sqlgateprevhash": "p", "id": "i"}),
            json!({"sqlgateseq": 1, "data": {"b": [1, 2.5, -3, 1e300, null, true], "a": "é\"\\\n\u{1}\u{2028}😀"},
                   "specversion": "1.0", "time": "2026-01-01T00:00:00Z", "B": {}, "": [], "sqlgate": "s"}),
            json!({"sqlgatf": 1, "sqlgatehas": 2, "sqlgatehash0": 3, "sqlgatehasi": [{"y": {}, "x": []}]}),
        ]
    }

    #[test]
    fn canonical_json_writes_the_bytes_it_always_wrote() {
        for v in samples() {
            assert_eq!(canonical_json(&v), reference(&v), "{v}");
            assert_eq!(record_hash(&v), reference_hash(&v), "{v}");
        }
        for v in [
            json!(null),
            json!("s\u{7f}"),
            json!([1, {"b": 2, "a": 1}]),
            json!(0.1),
        ] {
            assert_eq!(canonical_json(&v), reference(&v), "{v}");
            assert_eq!(record_hash(&v), reference_hash(&v), "{v}");
        }
    }

    #[test]
    fn hashed_line_is_the_hash_and_the_line_with_it() {
        for v in samples() {
            let Value::Object(map) = &v else {
                unreachable!()
            };
            let (hash, line) = hashed_line(map);
            assert_eq!(hash, reference_hash(&v), "{v}");
            let mut with = v.clone();
            with["sqlgatehash"] = Value::String(hash);
            assert_eq!(line, reference(&with), "{v}");
        }
    }
}
