//! A JSON object parser that refuses duplicated member names, for JOSE headers and JWT claim
//! sets.
//!
//! `serde_json` keeps the last of two members with the same name, while a `#[derive]`d struct
//! refuses them: before this parser, a token with two `groups` claims was judged by the second
//! (our claims map) and one with two `exp` claims was refused (jsonwebtoken's struct). RFC 7519
//! §4 lets a parser do either; we refuse every duplicate, at any depth (dotted claim paths such
//! as `realm_access.roles` reach into nested objects), so that no claim a decision uses can
//! mean one thing to one reader and another to the next. It owns nothing else: the caller
//! decides what a duplicate means for the request.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::untrusted;

/// Why [`parse_object`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UniqueJsonError {
    /// Not a JSON object (or not JSON at all).
    NotAnObject,
    /// A member name appears twice in one object; the dotted path of the member (each name
    /// made safe with [`untrusted`]), e.g. `groups` or `realm_access.roles`.
    Duplicate(String),
}

/// Parses `bytes` as a JSON object, refusing duplicated member names in it and in every nested
/// object. Nesting is bounded by `serde_json`'s recursion limit (128).
///
/// ```text
/// assert!(parse_object(br#"{"a":1,"b":{"c":2}}"#).is_ok());
/// assert_eq!(parse_object(br#"{"a":1,"a":2}"#), Err(UniqueJsonError::Duplicate("a".into())));
/// ```
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, UniqueJsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate.into_inner()) {
        (_, Some(path)) => Err(UniqueJsonError::Duplicate(path)),
        (Ok(Value::Object(map)), None) => Ok(map),
        _ => Err(UniqueJsonError::NotAnObject),
    }
}

/// Deserializes one value at `path`; records the first duplicate it meets in `duplicate`.
struct Seed<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed {
            path: self.path.clone(),
            duplicate: self.duplicate,
        })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                untrusted(&key)
            } else {
                format!("{}.{}", self.path, untrusted(&key))
            };
            if out.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate member"));
            }
            let value = map.next_value_seed(Seed {
                path,
                duplicate: self.duplicate,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_without_duplicates_parse_like_serde_json() {
        let text = br#"{"sub":"alice","groups":["a","b"],"n":1.5,"neg":-3,"big":18446744073709551615,"x":null,"o":{"k":[{"a":1},{"a":2}]}}"#;
        let ours = parse_object(text).unwrap();
        let theirs: Map<String, Value> = serde_json::from_slice(text).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn duplicates_are_named_by_their_path_at_any_depth() {
        for (text, path) in [
            (r#"{"groups":["admins"],"groups":["x"]}"#, "groups"),
            (r#"{"sub":"a","exp":1,"sub":"b"}"#, "sub"),
            (
                r#"{"realm_access":{"roles":[],"roles":["admins"]}}"#,
                "realm_access.roles",
            ),
            (r#"{"a":[{"b":1,"b":2}]}"#, "a.b"),
            ("{\"k\\u0000\":1,\"k\\u0000\":2}", "k?"),
        ] {
            assert_eq!(
                parse_object(text.as_bytes()),
                Err(UniqueJsonError::Duplicate(path.into())),
                "{text}"
            );
        }
        // The same name in two different objects is no duplicate.
        assert!(parse_object(br#"{"a":{"x":1},"b":{"x":2},"x":3}"#).is_ok());
    }

    #[test]
    fn non_objects_and_trailing_garbage_are_refused() {
        for text in ["[]", "1", "\"s\"", "{", "{} {}", "", "{\"a\":1,}"] {
            assert_eq!(
                parse_object(text.as_bytes()),
                Err(UniqueJsonError::NotAnObject),
                "{text}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let text = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            parse_object(text.as_bytes()),
            Err(UniqueJsonError::NotAnObject)
        );
    }
}
