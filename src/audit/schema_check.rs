//! A small JSON Schema checker for the tests, interpreting the subset of draft 2020-12 that
//! `audit-record.schema.json` uses. It refuses any keyword it does not know, so the schema
//! cannot grow a constraint the tests silently skip. (No `jsonschema` crate is available yet.)

use serde_json::Value;

/// Keywords that carry no constraint.
const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "$defs"];

/// Every violation of `schema` by `value`, as `path: message`.
pub(super) fn validate(root: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(root, root, value, "$", &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        panic!("schema at {path} is not an object");
    };
    for (keyword, arg) in schema {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => {
                let name = arg
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {arg}"));
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "dangling $ref {name}");
                check(root, target, value, path, errors);
            }
            "type" => {
                let want = arg.as_str().expect("type must be a string");
                let ok = match want {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_u64() || value.is_i64(),
                    "boolean" => value.is_boolean(),
                    other => panic!("unsupported type {other}"),
                };
                if !ok {
                    errors.push(format!("{path}: expected {want}, found {value}"));
                }
            }
            "required" => {
                for name in arg.as_array().expect("required is an array") {
                    let name = name.as_str().expect("required names are strings");
                    if value.is_object() && value.get(name).is_none() {
                        errors.push(format!("{path}: missing required `{name}`"));
                    }
                }
            }
            "properties" => {
                let (Some(props), Some(obj)) = (arg.as_object(), value.as_object()) else {
                    continue;
                };
                for (name, sub) in props {
                    if let Some(v) = obj.get(name) {
                        check(root, sub, v, &format!("{path}.{name}"), errors);
                    }
                }
            }
            "additionalProperties" => {
                let Some(obj) = value.as_object() else {
                    continue;
                };
                let declared = schema.get("properties").and_then(Value::as_object);
                for (name, v) in obj {
                    if declared.is_some_and(|d| d.contains_key(name)) {
                        continue;
                    }
                    match arg {
                        Value::Bool(false) => errors.push(format!("{path}: unexpected `{name}`")),
                        Value::Bool(true) => {}
                        sub => check(root, sub, v, &format!("{path}.{name}"), errors),
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, v) in items.iter().enumerate() {
                        check(root, arg, v, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            "enum" => {
                if !arg.as_array().expect("enum is an array").contains(value) {
                    errors.push(format!("{path}: {value} not in {arg}"));
                }
            }
            "const" => {
                if arg != value {
                    errors.push(format!("{path}: expected {arg}, found {value}"));
                }
            }
            "minLength" | "maxLength" => {
                if let Some(s) = value.as_str() {
                    let n = s.chars().count() as u64;
                    let bound = arg.as_u64().expect("length bound");
                    let ok = if keyword == "minLength" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !ok {
                        errors.push(format!("{path}: length {n} violates {keyword} {bound}"));
                    }
                }
            }
            "minimum" => {
                if let Some(n) = value.as_u64()
                    && n < arg.as_u64().expect("minimum")
                {
                    errors.push(format!("{path}: {n} below minimum {arg}"));
                }
            }
            "pattern" => {
                if let Some(s) = value.as_str()
                    && !pattern_matches(arg.as_str().expect("pattern"), s)
                {
                    errors.push(format!("{path}: `{s}` does not match {arg}"));
                }
            }
            "format" => {
                assert_eq!(arg, "date-time", "unsupported format {arg}");
                if let Some(s) = value.as_str()
                    && chrono::DateTime::parse_from_rfc3339(s).is_err()
                {
                    errors.push(format!("{path}: `{s}` is not a date-time"));
                }
            }
            other => {
                panic!("schema keyword `{other}` at {path} is not supported by the test checker")
            }
        }
    }
}

/// The patterns the schema uses (there is no regex crate among the dependencies).
fn pattern_matches(pattern: &str, s: &str) -> bool {
    match pattern {
        "^crn://confluent\\.cloud/" => s.starts_with("crn://confluent.cloud/"),
        "^[0-9a-f]{64}$" => {
            s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        other => panic!("unsupported pattern {other}"),
    }
}
