//! The canonical JSON the file sink writes and the hash chain is over.
//!
//! Written straight from the record by a `serde` serializer (`writer.rs`) into one byte
//! buffer: no `serde_json::Value` copy of the record, no `String` per key and scalar. Keys and
//! scalars go through `serde_json`'s own writer, so the bytes are those `Value`'s `Display`
//! produced. [`hashed_line`] gives a record's hash and its line from one serialization of its
//! attributes, without copying the record to drop `sqlgatehash`.

mod writer;

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
    // A `Value` always serializes: its map keys are strings.
    let _ = writer::write(value, &mut out);
    into_string(out)
}

/// The bytes are `serde_json` output and ASCII punctuation: always UTF-8.
fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The chain hash of a record given as JSON: hex SHA-256 of [`canonical_json`] of the record
/// without its `sqlgatehash` attribute.
pub fn record_hash(record: &Value) -> String {
    match hashed_line(record) {
        Ok((hash, _)) => hash,
        Err(_) => hex::encode(Sha256::digest(canonical_json(record).as_bytes())),
    }
}

/// A record's chain hash (as [`record_hash`]) and its canonical line with `sqlgatehash` set to
/// that hash (as [`canonical_json`] of the record with the hash inserted), from one
/// serialization of its attributes. Any `sqlgatehash` in the record is ignored. Fails when
/// the record does not serialize as a JSON object.
pub(crate) fn hashed_line<T: Serialize + ?Sized>(
    record: &T,
) -> Result<(String, String), serde_json::Error> {
    const HASH_KEY: &str = "sqlgatehash";
    let mut members = writer::members(record)?;
    members.items.retain(|(k, _)| k != HASH_KEY);
    let mut body = Vec::with_capacity(members.bytes.len() + 16 * members.items.len() + 2);
    writer::object(&members, &mut body);
    let hash = hex::encode(Sha256::digest(&body));
    // The line: the same members with `"sqlgatehash":"<hash>"` at its sorted place.
    let at = members
        .items
        .iter()
        .position(|(k, _)| k.as_bytes() > HASH_KEY.as_bytes())
        .unwrap_or(members.items.len());
    let mut hash_bytes = Vec::with_capacity(hash.len() + 2);
    writer::scalar(hash.as_str(), &mut hash_bytes);
    let range = members.bytes.len()..members.bytes.len() + hash_bytes.len();
    members.bytes.extend_from_slice(&hash_bytes);
    members
        .items
        .insert(at, (std::borrow::Cow::Borrowed(HASH_KEY), range));
    let mut line = Vec::with_capacity(body.len() + hash_bytes.len() + 20);
    writer::object(&members, &mut line);
    Ok((hash, into_string(line)))
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

    /// A typed value writes the bytes its `serde_json::Value` copy wrote: what the file sink
    /// wrote before it stopped making that copy.
    #[test]
    fn a_typed_record_writes_what_its_value_wrote() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        enum Kind {
            Unit,
            Wrapped(u32),
            Pair(i8, String),
            Shaped { z: bool, a: Option<f64> },
        }
        #[derive(Serialize)]
        struct Record {
            zeta: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            absent: Option<u8>,
            kinds: Vec<Kind>,
            by_name: BTreeMap<String, i64>,
            by_number: BTreeMap<u16, ()>,
            #[serde(with = "serde_bytes_as_seq")]
            raw: Vec<u8>,
            sqlgatehash: Option<String>,
            alpha: (f64, char, i128),
        }
        mod serde_bytes_as_seq {
            pub(super) fn serialize<S: serde::Serializer>(
                v: &[u8],
                s: S,
            ) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        let record = Record {
            zeta: "é\"\u{1}😀",
            skipped: None,
            absent: None,
            kinds: vec![
                Kind::Unit,
                Kind::Wrapped(7),
                Kind::Pair(-1, "p".into()),
                Kind::Shaped {
                    z: true,
                    a: Some(0.1),
                },
                Kind::Shaped { z: false, a: None },
            ],
            by_name: [("b".to_string(), 2), ("a".to_string(), -1), ("".into(), 0)].into(),
            by_number: [(10, ()), (9, ())].into(),
            raw: vec![0, 255],
            sqlgatehash: Some("stale".into()),
            alpha: (1e300, 'x', -5),
        };
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(hashed_line(&record).unwrap(), hashed_line(&value).unwrap());
        let (hash, line) = hashed_line(&record).unwrap();
        assert_eq!(hash, reference_hash(&value));
        let mut with = value.clone();
        with["sqlgatehash"] = Value::String(hash);
        assert_eq!(line, reference(&with));
        assert!(hashed_line(&[1, 2]).is_err(), "a record is an object");
    }

    #[test]
    fn hashed_line_is_the_hash_and_the_line_with_it() {
        for v in samples() {
            let (hash, line) = hashed_line(&v).unwrap();
            assert_eq!(hash, reference_hash(&v), "{v}");
            let mut with = v.clone();
            with["sqlgatehash"] = Value::String(hash);
            assert_eq!(line, reference(&with), "{v}");
        }
    }
}
