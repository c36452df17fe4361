//! Flink columns to and from JSON Schema (draft-07): the form a table's key or value schema
//! is registered in (`json-registry` format).
//!
//! Owns the mapping between [`FlinkType`] and JSON Schema keywords. It does not encode values
//! (that is `codec`) nor talk to a registry (that is `subjects`).
//!
//! ## Written shape
//! `{"$schema": draft-07, "type": "object", "title": "Record", "properties": {…},
//! "required": [NOT NULL columns]}`, properties in column order. A nullable column is
//! `{"oneOf": [{"type": "null"}, {…}]}` (as Confluent Cloud's Flink writes it). Every property
//! also carries `"connect.index"` (its position) and `"flink.type"` (the declared Flink type
//! without the column's own `NOT NULL`), so a table we created reads back exactly:
//!
//! | Flink | JSON Schema |
//! |---|---|
//! | BOOLEAN | `boolean` |
//! | TINYINT, SMALLINT, INT, BIGINT | `integer`, `connect.type` int8 / int16 / int32 / int64 |
//! | FLOAT, DOUBLE | `number`, `connect.type` float32 / float64 |
//! | DECIMAL | `number` |
//! | CHAR, VARCHAR, STRING | `string` |
//! | BINARY, VARBINARY, BYTES | `string`, `contentEncoding: base64` |
//! | DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ | `string`, `format` date / time / date-time / date-time |
//! | ARRAY | `array` with `items` |
//! | MAP | `object` with `additionalProperties` (keys are JSON member names) |
//! | ROW | nested `object` with `properties` |
//!
//! INTERVAL types have no JSON Schema form and are refused.
//!
//! ## Reading
//! `flink.type` wins when it parses and agrees with the property's JSON type. Otherwise
//! (schemas registered by other producers) the type is derived: `integer` → BIGINT (or the
//! `connect.type` width), `number` → DOUBLE (FLOAT for float32, DECIMAL for a Connect decimal),
//! `string` → STRING / DATE / TIME(3) / TIMESTAMP(3) / BYTES by `format` and
//! `contentEncoding`, `array` → ARRAY, `object` with properties → ROW, `object` with a schema
//! in `additionalProperties` → MAP<STRING, V>, anything else → STRING. A column is nullable
//! when a `oneOf`/`anyOf` branch or a `type` list admits `null`, or when it is not `required`.
//! Columns keep `connect.index` order when every property has one, else document order.
//! `$ref` is not supported.

mod ordered;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use ordered::Json;

use crate::sql::FlinkType;
use crate::sql::types::{Kind, MAX_LENGTH, parse_flink_type};

/// The draft the written schemas declare.
const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";
/// Our keyword carrying a property's exact Flink type.
const FLINK_TYPE: &str = "flink.type";
/// Kafka Connect's keyword for a property's position.
const CONNECT_INDEX: &str = "connect.index";
/// Kafka Connect's keyword for the physical width of a number.
const CONNECT_TYPE: &str = "connect.type";
/// Kafka Connect's logical type name of a decimal.
const CONNECT_DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

type Members = Vec<(String, Json)>;

/// The JSON Schema text registered for `columns` (see the module doc for the shape).
///
/// ```
/// use sqlgate::kafka::json_schema::{from_json_schema, to_json_schema};
/// let cols = from_json_schema(
///     r#"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#,
/// )
/// .unwrap();
/// assert_eq!(cols[0].1.to_sql(), "BIGINT NOT NULL");
/// let text = to_json_schema(&cols).unwrap();
/// assert_eq!(from_json_schema(&text).unwrap(), cols);
/// ```
pub fn to_json_schema(columns: &[(String, FlinkType)]) -> Result<String, String> {
    if columns.is_empty() {
        return Err("a JSON Schema table needs at least one column".into());
    }
    let mut root: Members = vec![
        member("$schema", Json::str(DRAFT_07)),
        member("type", Json::str("object")),
        member("title", Json::str("Record")),
    ];
    root.extend(object_members(columns)?);
    serde_json::to_string(&Json::Object(root)).map_err(|e| format!("render JSON Schema: {e}"))
}

/// The columns a registered JSON Schema describes (see the module doc for the mapping).
///
/// ```
/// use sqlgate::kafka::json_schema::from_json_schema;
/// let err = from_json_schema(r#"{"type":"string"}"#).unwrap_err();
/// assert!(err.contains("object with properties"), "{err}");
/// ```
pub fn from_json_schema(text: &str) -> Result<Vec<(String, FlinkType)>, String> {
    let root: Json =
        serde_json::from_str(text).map_err(|e| format!("the schema is not valid JSON: {e}"))?;
    no_ref(&root)?;
    let is_object = match root.get("type") {
        None => true,
        Some(t) => json_types(t).contains(&"object"),
    };
    let has_props = root
        .get("properties")
        .and_then(Json::as_object)
        .is_some_and(|p| !p.is_empty());
    if !is_object || !has_props {
        return Err(
            "a table's JSON Schema must be an object with properties (one per column)".into(),
        );
    }
    read_fields(&root)
}

fn member(k: &str, v: Json) -> (String, Json) {
    (k.to_string(), v)
}

// === Writing ===

/// `properties` (in order, with `connect.index` and `flink.type`) and `required` of a record.
fn object_members(fields: &[(String, FlinkType)]) -> Result<Members, String> {
    let mut seen = HashSet::new();
    let mut props = Vec::with_capacity(fields.len());
    let mut required = Vec::new();
    for (i, (name, t)) in fields.iter().enumerate() {
        if !seen.insert(name.as_str()) {
            return Err(format!("duplicate column `{name}`"));
        }
        let mut p = schema_of(t).map_err(|e| format!("column `{name}`: {e}"))?;
        p.push(member(CONNECT_INDEX, Json::uint(i as u64)));
        let declared = t.clone().with_nullable(true).to_sql();
        p.push(member(FLINK_TYPE, Json::str(declared)));
        props.push((name.clone(), Json::Object(p)));
        if !admits_null(t) {
            required.push(Json::str(name.clone()));
        }
    }
    let mut out = vec![member("properties", Json::Object(props))];
    if !required.is_empty() {
        out.push(member("required", Json::Array(required)));
    }
    Ok(out)
}

fn admits_null(t: &FlinkType) -> bool {
    t.nullable() || *t.kind() == Kind::Null
}

/// The schema of a value of type `t`, admitting `null` when `t` is nullable.
fn schema_of(t: &FlinkType) -> Result<Members, String> {
    let base = type_members(t)?;
    if t.nullable() && *t.kind() != Kind::Null {
        let null = Json::Object(vec![member("type", Json::str("null"))]);
        Ok(vec![member(
            "oneOf",
            Json::Array(vec![null, Json::Object(base)]),
        )])
    } else {
        Ok(base)
    }
}

/// The schema of a non-null value of type `t`.
fn type_members(t: &FlinkType) -> Result<Members, String> {
    let typed = |ty: &str| vec![member("type", Json::str(ty))];
    let with =
        |ty: &str, k: &str, v: &str| vec![member("type", Json::str(ty)), member(k, Json::str(v))];
    Ok(match t.kind() {
        Kind::Null => typed("null"),
        Kind::Boolean => typed("boolean"),
        Kind::TinyInt => with("integer", CONNECT_TYPE, "int8"),
        Kind::SmallInt => with("integer", CONNECT_TYPE, "int16"),
        Kind::Integer => with("integer", CONNECT_TYPE, "int32"),
        Kind::BigInt => with("integer", CONNECT_TYPE, "int64"),
        Kind::Float => with("number", CONNECT_TYPE, "float32"),
        Kind::Double => with("number", CONNECT_TYPE, "float64"),
        Kind::Decimal { .. } => typed("number"),
        Kind::Char(_) | Kind::Varchar(_) => typed("string"),
        Kind::Binary(_) | Kind::Varbinary(_) => with("string", "contentEncoding", "base64"),
        Kind::Date => with("string", "format", "date"),
        Kind::Time(_) => with("string", "format", "time"),
        Kind::Timestamp(_) | Kind::TimestampLtz(_) => with("string", "format", "date-time"),
        Kind::IntervalDayTime | Kind::IntervalYearMonth | Kind::Multiset(_) => {
            return Err(format!("{} has no JSON Schema form", t.to_sql()));
        }
        Kind::Array(e) => vec![
            member("type", Json::str("array")),
            member("items", Json::Object(schema_of(e)?)),
        ],
        Kind::Map(_, v) => vec![
            member("type", Json::str("object")),
            member("additionalProperties", Json::Object(schema_of(v)?)),
        ],
        Kind::Row(fields) => {
            if fields.is_empty() {
                return Err("an empty ROW has no JSON Schema form".into());
            }
            let mut m = typed("object");
            m.extend(object_members(fields)?);
            m
        }
    })
}

/// The JSON type the writer gives a (non-null) value of type `t`, if it has one.
fn json_type_of(t: &FlinkType) -> Option<&'static str> {
    Some(match t.kind() {
        Kind::Null => "null",
        Kind::Boolean => "boolean",
        Kind::TinyInt | Kind::SmallInt | Kind::Integer | Kind::BigInt => "integer",
        Kind::Float | Kind::Double | Kind::Decimal { .. } => "number",
        Kind::Char(_)
        | Kind::Varchar(_)
        | Kind::Binary(_)
        | Kind::Varbinary(_)
        | Kind::Date
        | Kind::Time(_)
        | Kind::Timestamp(_)
        | Kind::TimestampLtz(_) => "string",
        Kind::Array(_) => "array",
        Kind::Map(..) | Kind::Row(_) => "object",
        Kind::IntervalDayTime | Kind::IntervalYearMonth | Kind::Multiset(_) => return None,
    })
}

// === Reading ===

/// A schema node with the `null` alternative taken out.
enum Shape<'a> {
    /// One JSON type (`None`: not stated) described by this node.
    Typed(&'a Json, Option<&'a str>),
    /// Several non-null alternatives, or none we understand.
    Unknown,
}

/// The names in a `type` keyword (a string or a list of strings).
fn json_types(t: &Json) -> Vec<&str> {
    match t {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

fn no_ref(node: &Json) -> Result<(), String> {
    if node.get("$ref").is_some() {
        return Err("JSON Schemas with $ref are not supported".into());
    }
    Ok(())
}

/// Splits `node` into its non-null shape and whether it admits `null`.
fn split_null(node: &Json) -> Result<(Shape<'_>, bool), String> {
    no_ref(node)?;
    let branches = node
        .get("oneOf")
        .or_else(|| node.get("anyOf"))
        .and_then(Json::as_array);
    if let Some(branches) = branches {
        let mut null = false;
        let mut rest = Vec::new();
        for b in branches {
            let (shape, admits) = split_null(b)?;
            null |= admits;
            match shape {
                Shape::Typed(_, Some("null")) => null = true,
                s => rest.push(s),
            }
        }
        let shape = match rest.len() {
            1 => rest.remove(0),
            _ => Shape::Unknown,
        };
        return Ok((shape, null));
    }
    match node.get("type") {
        None => Ok((Shape::Typed(node, None), false)),
        Some(t) => {
            let types = json_types(t);
            let null = types.contains(&"null");
            let rest: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
            let shape = match rest.as_slice() {
                [one] => Shape::Typed(node, Some(one)),
                [] if null => Shape::Typed(node, Some("null")),
                _ => Shape::Unknown,
            };
            Ok((shape, null))
        }
    }
}

/// The columns of an object node's `properties`.
fn read_fields(node: &Json) -> Result<Vec<(String, FlinkType)>, String> {
    let props = node
        .get("properties")
        .and_then(Json::as_object)
        .unwrap_or_default();
    let required: HashSet<&str> = node
        .get("required")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let mut seen = HashSet::new();
    let mut fields = Vec::with_capacity(props.len());
    for (name, p) in props {
        if !seen.insert(name.as_str()) {
            return Err(format!("duplicate property `{name}`"));
        }
        let (shape, null) = split_null(p).map_err(|e| format!("property `{name}`: {e}"))?;
        let nullable = null || !required.contains(name.as_str());
        let t = declared(p, &shape)
            .map_or_else(|| derive(&shape), Ok)
            .map_err(|e| format!("property `{name}`: {e}"))?;
        let index = p.get(CONNECT_INDEX).and_then(Json::as_u64);
        fields.push((index, name.clone(), t.with_nullable(nullable)));
    }
    if fields.iter().all(|(i, ..)| i.is_some()) {
        fields.sort_by_key(|(i, ..)| *i);
    }
    Ok(fields.into_iter().map(|(_, n, t)| (n, t)).collect())
}

/// The property's `flink.type`, if it parses and agrees with the JSON type it is stored as.
fn declared(p: &Json, shape: &Shape<'_>) -> Option<FlinkType> {
    let text = p.get(FLINK_TYPE).and_then(Json::as_str)?;
    let t = parse_flink_type(text).ok()?;
    match shape {
        Shape::Typed(_, Some(ty)) if json_type_of(&t) != Some(*ty) => None,
        _ => Some(t),
    }
}

/// An element schema (array items, map values): nullable only if it admits `null`.
fn read_element(node: &Json) -> Result<FlinkType, String> {
    let (shape, null) = split_null(node)?;
    Ok(derive(&shape)?.with_nullable(null))
}

/// The Flink type of a non-null shape, derived from its JSON keywords (nullable; callers set
/// the nullability).
fn derive(shape: &Shape<'_>) -> Result<FlinkType, String> {
    let (node, ty) = match shape {
        Shape::Typed(node, ty) => (*node, *ty),
        Shape::Unknown => return Ok(FlinkType::string(true)),
    };
    let ty = ty.or_else(|| {
        if node.get("properties").is_some() {
            Some("object")
        } else if node.get("items").is_some() {
            Some("array")
        } else {
            None
        }
    });
    let keyword = |k: &str| node.get(k).and_then(Json::as_str);
    let kind = match ty {
        Some("boolean") => Kind::Boolean,
        Some("integer") => match keyword(CONNECT_TYPE) {
            Some("int8") => Kind::TinyInt,
            Some("int16") => Kind::SmallInt,
            Some("int32") => Kind::Integer,
            _ => Kind::BigInt,
        },
        Some("number") => match keyword(CONNECT_TYPE) {
            Some("float32") => Kind::Float,
            _ if keyword("title") == Some(CONNECT_DECIMAL) => connect_decimal(node),
            _ => Kind::Double,
        },
        Some("string") => match (keyword("format"), keyword("contentEncoding")) {
            (Some("date"), _) => Kind::Date,
            (Some("time"), _) => Kind::Time(3),
            (Some("date-time"), _) => Kind::Timestamp(3),
            (_, Some("base64")) => Kind::Varbinary(MAX_LENGTH),
            _ if keyword(CONNECT_TYPE) == Some("bytes") => Kind::Varbinary(MAX_LENGTH),
            _ => Kind::Varchar(MAX_LENGTH),
        },
        Some("array") => match node.get("items") {
            Some(items @ Json::Object(_)) => Kind::Array(Box::new(read_element(items)?)),
            _ => Kind::Array(Box::new(FlinkType::string(true))),
        },
        Some("object") => {
            let has_props = node
                .get("properties")
                .and_then(Json::as_object)
                .is_some_and(|p| !p.is_empty());
            match node.get("additionalProperties") {
                _ if has_props => Kind::Row(read_fields(node)?),
                Some(values @ Json::Object(_)) => Kind::Map(
                    Box::new(FlinkType::string(true)),
                    Box::new(read_element(values)?),
                ),
                _ => Kind::Varchar(MAX_LENGTH),
            }
        }
        _ => Kind::Varchar(MAX_LENGTH),
    };
    Ok(FlinkType::new(kind, true))
}

/// DECIMAL(p, s) from Kafka Connect's decimal parameters (precision 38 when not given).
fn connect_decimal(node: &Json) -> Kind {
    let param = |k: &str| {
        node.get("connect.parameters")
            .and_then(|p| p.get(k))
            .and_then(Json::as_u64)
    };
    let precision = param("connect.decimal.precision").unwrap_or(38);
    let scale = param("scale").unwrap_or(0);
    if (1..=38).contains(&precision) && scale <= precision {
        Kind::Decimal {
            precision: precision as u8,
            scale: scale as i8,
        }
    } else {
        Kind::Double
    }
}
