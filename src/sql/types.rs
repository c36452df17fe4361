//! Flink logical types: parsing Flink SQL type text, mapping to and from Arrow, and the
//! contract's `DataType` JSON shape (statements API §4.3).
//!
//! Owns the one mapping table between the two type systems. It does not encode values
//! (that is `encode`) nor decide which types a statement may use.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// Field-metadata key carrying the declared Flink type text of a column, so that
/// `CHAR(5)` or `TIMESTAMP_LTZ(3)` survive projections and are reported as declared.
pub(crate) const FLINK_TYPE_KEY: &str = "sqlgate.flink_type";

/// Flink's length for `STRING` / `BYTES` (`VARCHAR(2147483647)` / `VARBINARY(2147483647)`).
pub(crate) const MAX_LENGTH: u32 = 2_147_483_647;

/// Time zone of every `TIMESTAMP_LTZ` column: instants are kept and rendered in UTC.
pub(crate) const LTZ_ZONE: &str = "UTC";

/// A Flink logical type with its nullability; serializes to the contract's DataType object
/// (`{"type": "VARCHAR", "nullable": true, "length": 2147483647}`).
#[derive(Clone, Debug, PartialEq)]
pub struct FlinkType {
    kind: Kind,
    nullable: bool,
}

/// The type constructors the gateway can store, query and encode.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Null,
    Boolean,
    TinyInt,
    SmallInt,
    Integer,
    BigInt,
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: i8,
    },
    Char(u32),
    Varchar(u32),
    Binary(u32),
    Varbinary(u32),
    Date,
    Time(u8),
    Timestamp(u8),
    TimestampLtz(u8),
    IntervalDayTime,
    IntervalYearMonth,
    Array(Box<FlinkType>),
    Map(Box<FlinkType>, Box<FlinkType>),
    /// Stored as an Arrow map from element to its count (`INT NOT NULL`), which is also
    /// its wire form (`[[element, "count"], …]`).
    Multiset(Box<FlinkType>),
    Row(Vec<(String, FlinkType)>),
}

// === impl FlinkType ===

impl FlinkType {
    pub(crate) fn new(kind: Kind, nullable: bool) -> Self {
        Self { kind, nullable }
    }

    /// `STRING` (`VARCHAR(2147483647)`), the type of SHOW/DESCRIBE text columns.
    pub(crate) fn string(nullable: bool) -> Self {
        Self::new(Kind::Varchar(MAX_LENGTH), nullable)
    }

    /// `BYTES` (`VARBINARY(2147483647)`), the type of a topic's raw key and value.
    pub(crate) fn bytes(nullable: bool) -> Self {
        Self::new(Kind::Varbinary(MAX_LENGTH), nullable)
    }

    /// The type constructor.
    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The contract's type name, e.g. `TIMESTAMP_WITH_LOCAL_TIME_ZONE`.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "NULL",
            Kind::Boolean => "BOOLEAN",
            Kind::TinyInt => "TINYINT",
            Kind::SmallInt => "SMALLINT",
            Kind::Integer => "INTEGER",
            Kind::BigInt => "BIGINT",
            Kind::Float => "FLOAT",
            Kind::Double => "DOUBLE",
            Kind::Decimal { .. } => "DECIMAL",
            Kind::Char(_) => "CHAR",
            Kind::Varchar(_) => "VARCHAR",
            Kind::Binary(_) => "BINARY",
            Kind::Varbinary(_) => "VARBINARY",
            Kind::Date => "DATE",
            Kind::Time(_) => "TIME_WITHOUT_TIME_ZONE",
            Kind::Timestamp(_) => "TIMESTAMP_WITHOUT_TIME_ZONE",
            Kind::TimestampLtz(_) => "TIMESTAMP_WITH_LOCAL_TIME_ZONE",
            Kind::IntervalDayTime => "INTERVAL_DAY_TIME",
            Kind::IntervalYearMonth => "INTERVAL_YEAR_MONTH",
            Kind::Array(_) => "ARRAY",
            Kind::Map(..) => "MAP",
            Kind::Multiset(_) => "MULTISET",
            Kind::Row(_) => "ROW",
        }
    }

    /// Whether the column may hold NULL.
    pub fn nullable(&self) -> bool {
        self.nullable
    }

    pub(crate) fn with_nullable(mut self, nullable: bool) -> Self {
        self.nullable = nullable;
        self
    }

    /// Flink's summary spelling, as `DESCRIBE` prints it: `INT`, `STRING`, `DECIMAL(10, 2)`,
    /// `TIMESTAMP_LTZ(3)`, `ARRAY<INT NOT NULL>`, with ` NOT NULL` when not nullable.
    /// The text parses back with [`parse_flink_type`].
    pub fn to_sql(&self) -> String {
        self.spelled(false)
    }

    /// Flink's serializable spelling, as SHOW CREATE TABLE prints it: [`Self::to_sql`] with
    /// `STRING` as `VARCHAR(2147483647)` and `BYTES` as `VARBINARY(2147483647)`, nested types
    /// included.
    pub fn to_full_sql(&self) -> String {
        self.spelled(true)
    }

    fn spelled(&self, full: bool) -> String {
        let sql = |t: &FlinkType| t.spelled(full);
        let base = match &self.kind {
            Kind::Null => "NULL".to_string(),
            Kind::Boolean => "BOOLEAN".into(),
            Kind::TinyInt => "TINYINT".into(),
            Kind::SmallInt => "SMALLINT".into(),
            Kind::Integer => "INT".into(),
            Kind::BigInt => "BIGINT".into(),
            Kind::Float => "FLOAT".into(),
            Kind::Double => "DOUBLE".into(),
            Kind::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
            Kind::Char(n) => format!("CHAR({n})"),
            Kind::Varchar(MAX_LENGTH) if !full => "STRING".into(),
            Kind::Varchar(n) => format!("VARCHAR({n})"),
            Kind::Binary(n) => format!("BINARY({n})"),
            Kind::Varbinary(MAX_LENGTH) if !full => "BYTES".into(),
            Kind::Varbinary(n) => format!("VARBINARY({n})"),
            Kind::Date => "DATE".into(),
            Kind::Time(p) => format!("TIME({p})"),
            Kind::Timestamp(p) => format!("TIMESTAMP({p})"),
            Kind::TimestampLtz(p) => format!("TIMESTAMP_LTZ({p})"),
            Kind::IntervalDayTime => "INTERVAL DAY(2) TO SECOND(3)".into(),
            Kind::IntervalYearMonth => "INTERVAL YEAR(2) TO MONTH".into(),
            Kind::Array(t) => format!("ARRAY<{}>", sql(t)),
            Kind::Map(k, v) => format!("MAP<{}, {}>", sql(k), sql(v)),
            Kind::Multiset(t) => format!("MULTISET<{}>", sql(t)),
            Kind::Row(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(n, t)| format!("`{}` {}", n.replace('`', "``"), sql(t)))
                    .collect();
                format!("ROW<{}>", fields.join(", "))
            }
        };
        if self.nullable || self.kind == Kind::Null {
            base
        } else {
            format!("{base} NOT NULL")
        }
    }

    /// The Arrow type values of this type are stored and computed as.
    pub(crate) fn to_arrow(&self) -> Result<DataType, String> {
        let unit = |p: u8| match p {
            0 => TimeUnit::Second,
            1..=3 => TimeUnit::Millisecond,
            4..=6 => TimeUnit::Microsecond,
            _ => TimeUnit::Nanosecond,
        };
        Ok(match &self.kind {
            Kind::Null => DataType::Null,
            Kind::Boolean => DataType::Boolean,
            Kind::TinyInt => DataType::Int8,
            Kind::SmallInt => DataType::Int16,
            Kind::Integer => DataType::Int32,
            Kind::BigInt => DataType::Int64,
            Kind::Float => DataType::Float32,
            Kind::Double => DataType::Float64,
            Kind::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            Kind::Char(_) | Kind::Varchar(_) => DataType::Utf8,
            Kind::Binary(_) | Kind::Varbinary(_) => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time(p) => match unit(*p) {
                u @ (TimeUnit::Second | TimeUnit::Millisecond) => DataType::Time32(u),
                u => DataType::Time64(u),
            },
            Kind::Timestamp(p) => DataType::Timestamp(unit(*p), None),
            Kind::TimestampLtz(p) => DataType::Timestamp(unit(*p), Some(LTZ_ZONE.into())),
            Kind::IntervalDayTime => DataType::Interval(IntervalUnit::MonthDayNano),
            Kind::IntervalYearMonth => DataType::Interval(IntervalUnit::YearMonth),
            Kind::Array(t) => {
                DataType::List(Arc::new(t.plain_field(Field::LIST_FIELD_DEFAULT_NAME)?))
            }
            Kind::Map(k, v) => {
                // Arrow map keys can never be null, whatever Flink declared.
                let key = Field::new("key", k.to_arrow()?, false);
                let value = v.plain_field("value")?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![key, value])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            Kind::Multiset(t) => {
                let key = Field::new("key", t.to_arrow()?, false);
                let count = Field::new("value", DataType::Int32, false);
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![key, count])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            Kind::Row(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|(n, t)| t.plain_field(n))
                    .collect::<Result<Vec<_>, _>>()?
                    .into(),
            ),
        })
    }

    /// A nested Arrow field (the top-level field's metadata already spells the whole type).
    fn plain_field(&self, name: &str) -> Result<Field, String> {
        Ok(Field::new(name, self.to_arrow()?, self.nullable))
    }

    /// An Arrow field of this type that remembers the Flink spelling in its metadata.
    pub(crate) fn to_field(&self, name: &str) -> Result<Field, String> {
        let meta = HashMap::from([(FLINK_TYPE_KEY.to_string(), self.to_sql())]);
        Ok(Field::new(name, self.to_arrow()?, self.nullable).with_metadata(meta))
    }

    /// The Flink type reported for an Arrow field of a result: the declared type when the
    /// field carries one that still matches its Arrow type, else the natural mapping.
    pub(crate) fn from_field(field: &Field) -> Result<Self, String> {
        if let Some(declared) = field.metadata().get(FLINK_TYPE_KEY)
            && let Ok(t) = parse_flink_type(declared)
            && t.to_arrow().as_ref() == Ok(field.data_type())
        {
            return Ok(t.with_nullable(field.is_nullable()));
        }
        Self::from_arrow(field.data_type(), field.is_nullable())
    }

    /// The natural Flink type of an Arrow type.
    pub(crate) fn from_arrow(dt: &DataType, nullable: bool) -> Result<Self, String> {
        let precision = |u: &TimeUnit| match u {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 3,
            TimeUnit::Microsecond => 6,
            TimeUnit::Nanosecond => 9,
        };
        let kind = match dt {
            DataType::Null => Kind::Null,
            DataType::Boolean => Kind::Boolean,
            DataType::Int8 => Kind::TinyInt,
            DataType::Int16 | DataType::UInt8 => Kind::SmallInt,
            DataType::Int32 | DataType::UInt16 => Kind::Integer,
            DataType::Int64 | DataType::UInt32 => Kind::BigInt,
            DataType::UInt64 => Kind::Decimal {
                precision: 20,
                scale: 0,
            },
            DataType::Float16 | DataType::Float32 => Kind::Float,
            DataType::Float64 => Kind::Double,
            DataType::Decimal32(p, s)
            | DataType::Decimal64(p, s)
            | DataType::Decimal128(p, s)
            | DataType::Decimal256(p, s) => Kind::Decimal {
                precision: *p,
                scale: *s,
            },
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Varchar(MAX_LENGTH),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                Kind::Varbinary(MAX_LENGTH)
            }
            DataType::FixedSizeBinary(n) => Kind::Binary(u32::try_from(*n).unwrap_or(1)),
            DataType::Date32 | DataType::Date64 => Kind::Date,
            DataType::Time32(u) | DataType::Time64(u) => Kind::Time(precision(u)),
            DataType::Timestamp(u, None) => Kind::Timestamp(precision(u)),
            DataType::Timestamp(u, Some(_)) => Kind::TimestampLtz(precision(u)),
            DataType::Interval(IntervalUnit::YearMonth) => Kind::IntervalYearMonth,
            DataType::Interval(_) | DataType::Duration(_) => Kind::IntervalDayTime,
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Kind::Array(Box::new(Self::from_field(f)?))
            }
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Kind::Map(
                    Box::new(Self::from_field(&kv[0])?),
                    Box::new(Self::from_field(&kv[1])?),
                ),
                other => return Err(format!("unexpected map entries type {other}")),
            },
            DataType::Struct(fields) => Kind::Row(
                fields
                    .iter()
                    .map(|f| Ok((f.name().clone(), Self::from_field(f)?)))
                    .collect::<Result<_, String>>()?,
            ),
            DataType::Dictionary(_, v) => return Self::from_arrow(v, nullable),
            other => return Err(format!("result type {other} has no Flink equivalent")),
        };
        Ok(Self::new(kind, nullable))
    }

    /// Whether Flink converts a value of this type to `to` implicitly, as when a query's
    /// column is written into a sink column (Flink's `LogicalTypeCasts.supportsImplicitCast`):
    /// within a type root (any length or precision), up the integer ladder, exact numbers
    /// to DECIMAL/FLOAT/DOUBLE, CHAR to VARCHAR, BINARY to VARBINARY, between the two
    /// timestamps and from TIMESTAMP to DATE and TIME, NULL to anything; constructed types
    /// element by element, and a ROW field by field by position (names do not matter).
    /// Nullability is not compared.
    pub(crate) fn casts_implicitly_to(&self, to: &FlinkType) -> bool {
        use Kind::*;
        let rank = |k: &Kind| match k {
            TinyInt => Some(0),
            SmallInt => Some(1),
            Integer => Some(2),
            BigInt => Some(3),
            _ => None,
        };
        match (&self.kind, &to.kind) {
            (Null, _) => true,
            (Array(a), Array(b)) | (Multiset(a), Multiset(b)) => a.casts_implicitly_to(b),
            (Map(k1, v1), Map(k2, v2)) => k1.casts_implicitly_to(k2) && v1.casts_implicitly_to(v2),
            (Row(a), Row(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((_, x), (_, y))| x.casts_implicitly_to(y))
            }
            (Array(_) | Multiset(_) | Map(..) | Row(_), _)
            | (_, Array(_) | Multiset(_) | Map(..) | Row(_)) => false,
            (from, to) if std::mem::discriminant(from) == std::mem::discriminant(to) => true,
            (from, Decimal { .. }) => rank(from).is_some(),
            (from, Float) => rank(from).is_some() || matches!(from, Decimal { .. }),
            (from, Double) => rank(from).is_some() || matches!(from, Decimal { .. } | Float),
            (Char(_), Varchar(_)) | (Binary(_), Varbinary(_)) => true,
            (Timestamp(_), TimestampLtz(_) | Date | Time(_)) | (TimestampLtz(_), Timestamp(_)) => {
                true
            }
            (from, to) => matches!((rank(from), rank(to)), (Some(f), Some(t)) if f < t),
        }
    }
}

/// The contract's DataType object (§4.3). Optional keys are omitted, never `null`.
impl Serialize for FlinkType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.type_name())?;
        m.serialize_entry("nullable", &self.nullable)?;
        match &self.kind {
            Kind::Char(n) | Kind::Varchar(n) | Kind::Binary(n) | Kind::Varbinary(n) => {
                m.serialize_entry("length", n)?;
            }
            Kind::Decimal { precision, scale } => {
                m.serialize_entry("precision", precision)?;
                m.serialize_entry("scale", scale)?;
            }
            Kind::Time(p) | Kind::Timestamp(p) | Kind::TimestampLtz(p) => {
                m.serialize_entry("precision", p)?;
            }
            Kind::IntervalDayTime => {
                m.serialize_entry("resolution", "DAY_TO_SECOND")?;
                m.serialize_entry("precision", &2)?;
                m.serialize_entry("fractional_precision", &3)?;
            }
            Kind::IntervalYearMonth => {
                m.serialize_entry("resolution", "YEAR_TO_MONTH")?;
                m.serialize_entry("precision", &2)?;
            }
            Kind::Array(t) | Kind::Multiset(t) => m.serialize_entry("element_type", t)?,
            Kind::Map(k, v) => {
                m.serialize_entry("key_type", k)?;
                m.serialize_entry("value_type", v)?;
            }
            Kind::Row(fields) => {
                #[derive(Serialize)]
                struct RowField<'a> {
                    name: &'a str,
                    field_type: &'a FlinkType,
                }
                let fields: Vec<RowField<'_>> = fields
                    .iter()
                    .map(|(name, field_type)| RowField { name, field_type })
                    .collect();
                m.serialize_entry("fields", &fields)?;
            }
            _ => {}
        }
        m.end()
    }
}

// === Flink type text parser ===

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Num(u64),
    Str,
    Punct(char),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_digit() {
            let mut n = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(d);
                chars.next();
            }
            out.push(Tok::Num(
                n.parse().map_err(|_| format!("number {n} too large"))?,
            ));
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let mut w = String::new();
            while let Some(&d) = chars
                .peek()
                .filter(|d| d.is_alphanumeric() || **d == '_' || **d == '$')
            {
                w.push(d);
                chars.next();
            }
            out.push(Tok::Word(w));
        } else if c == '`' || c == '"' || c == '\'' {
            chars.next();
            let mut w = String::new();
            loop {
                match chars.next() {
                    Some(d) if d == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            w.push(c);
                        } else {
                            break;
                        }
                    }
                    Some(d) => w.push(d),
                    None => return Err("unterminated quoted identifier".into()),
                }
            }
            out.push(if c == '\'' { Tok::Str } else { Tok::Quoted(w) });
        } else if "()<>,[]:".contains(c) {
            chars.next();
            out.push(Tok::Punct(c));
        } else {
            return Err(format!("unexpected character '{c}' in type"));
        }
    }
    Ok(out)
}

struct TypeParser {
    toks: Vec<Tok>,
    pos: usize,
}

/// Parses a Flink SQL type (`STRING`, `DECIMAL(10, 2) NOT NULL`, `TIMESTAMP(3) WITH LOCAL
/// TIME ZONE`, `ARRAY<INT>`, `MAP<STRING, INT>`, `ROW<a INT, b STRING>`; also the spellings
/// sqlparser renders: `STRUCT<..>`, `Map(K, V)`, `INT[]`).
pub(crate) fn parse_flink_type(text: &str) -> Result<FlinkType, String> {
    let mut p = TypeParser {
        toks: tokenize(text)?,
        pos: 0,
    };
    let t = p.parse_type()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected trailing tokens in type `{text}`"));
    }
    Ok(t)
}

impl TypeParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let hit = self.peek_word(w);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(&Tok::Punct(c));
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(format!("expected '{c}' in type"))
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), String> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(format!("expected {w} in type"))
        }
    }

    fn number(&mut self) -> Result<u64, String> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(n)
            }
            _ => Err("expected a number in type".into()),
        }
    }

    /// `( n )` if present.
    fn opt_len(&mut self) -> Result<Option<u64>, String> {
        if self.eat_punct('(') {
            let n = self.number()?;
            self.expect_punct(')')?;
            Ok(Some(n))
        } else {
            Ok(None)
        }
    }

    fn parse_type(&mut self) -> Result<FlinkType, String> {
        let kind = self.parse_kind()?;
        let mut t = FlinkType::new(kind, true);
        // Postfix array spelling `INT[]` (sqlparser renders some arrays so).
        while self.peek() == Some(&Tok::Punct('[')) {
            self.pos += 1;
            self.expect_punct(']')?;
            t = FlinkType::new(Kind::Array(Box::new(t)), true);
        }
        if self.eat_word("NOT") {
            self.expect_word("NULL")?;
            t.nullable = false;
        } else {
            self.eat_word("NULL");
        }
        Ok(t)
    }

    fn precision(&mut self, default: u64, max: u64) -> Result<u8, String> {
        let p = self.opt_len()?.unwrap_or(default);
        if p > max {
            return Err(format!("precision {p} out of range 0..={max}"));
        }
        Ok(p as u8)
    }

    fn length(&mut self, default: u64) -> Result<u32, String> {
        let n = self.opt_len()?.unwrap_or(default);
        match u32::try_from(n) {
            Ok(n) if (1..=MAX_LENGTH).contains(&n) => Ok(n),
            _ => Err(format!("length {n} out of range 1..={MAX_LENGTH}")),
        }
    }

    fn parse_kind(&mut self) -> Result<Kind, String> {
        let word = match self.peek() {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            _ => return Err("expected a type name".into()),
        };
        self.pos += 1;
        Ok(match word.as_str() {
            "NULL" => Kind::Null,
            "BOOLEAN" | "BOOL" => Kind::Boolean,
            "TINYINT" => Kind::TinyInt,
            "SMALLINT" => Kind::SmallInt,
            "INT" | "INTEGER" => Kind::Integer,
            "BIGINT" => Kind::BigInt,
            "FLOAT" | "REAL" => {
                self.opt_len()?;
                Kind::Float
            }
            "DOUBLE" => {
                self.eat_word("PRECISION");
                Kind::Double
            }
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let (mut precision, mut scale) = (10, 0);
                if self.eat_punct('(') {
                    precision = self.number()?;
                    if self.eat_punct(',') {
                        scale = self.number()?;
                    }
                    self.expect_punct(')')?;
                }
                if !(1..=38).contains(&precision) || scale > precision {
                    return Err(format!("invalid DECIMAL({precision}, {scale})"));
                }
                Kind::Decimal {
                    precision: precision as u8,
                    scale: scale as i8,
                }
            }
            "CHAR" | "CHARACTER" => {
                if self.eat_word("VARYING") {
                    Kind::Varchar(self.length(1)?)
                } else {
                    Kind::Char(self.length(1)?)
                }
            }
            "VARCHAR" => Kind::Varchar(self.length(1)?),
            "STRING" | "TEXT" => Kind::Varchar(self.length(u64::from(MAX_LENGTH))?),
            "BINARY" => Kind::Binary(self.length(1)?),
            "VARBINARY" => Kind::Varbinary(self.length(1)?),
            "BYTES" | "BYTEA" => Kind::Varbinary(self.length(u64::from(MAX_LENGTH))?),
            "DATE" => Kind::Date,
            "TIME" => {
                let p = self.precision(0, 9)?;
                if self.eat_word("WITHOUT") {
                    self.expect_word("TIME")?;
                    self.expect_word("ZONE")?;
                }
                Kind::Time(p)
            }
            "TIMESTAMP" => {
                let p = self.precision(6, 9)?;
                if self.eat_word("WITHOUT") {
                    self.expect_word("TIME")?;
                    self.expect_word("ZONE")?;
                    Kind::Timestamp(p)
                } else if self.eat_word("WITH") {
                    if !self.eat_word("LOCAL") {
                        return Err(
                            "TIMESTAMP WITH TIME ZONE is not supported; use TIMESTAMP_LTZ".into(),
                        );
                    }
                    self.expect_word("TIME")?;
                    self.expect_word("ZONE")?;
                    Kind::TimestampLtz(p)
                } else {
                    Kind::Timestamp(p)
                }
            }
            "TIMESTAMP_LTZ" => Kind::TimestampLtz(self.precision(6, 9)?),
            "ARRAY" => {
                let close = self.open()?;
                let t = self.parse_type()?;
                self.expect_punct(close)?;
                Kind::Array(Box::new(t))
            }
            "MULTISET" => {
                let close = self.open()?;
                let t = self.parse_type()?;
                self.expect_punct(close)?;
                Kind::Multiset(Box::new(t))
            }
            "INTERVAL" => {
                let first = self.interval_unit()?;
                let last = if self.eat_word("TO") {
                    self.interval_unit()?
                } else {
                    first.clone()
                };
                match (first.as_str(), last.as_str()) {
                    ("YEAR" | "MONTH", "YEAR" | "MONTH") => Kind::IntervalYearMonth,
                    ("YEAR" | "MONTH", _) | (_, "YEAR" | "MONTH") => {
                        return Err(format!("invalid interval type INTERVAL {first} TO {last}"));
                    }
                    _ => Kind::IntervalDayTime,
                }
            }
            "MAP" => {
                let close = self.open()?;
                let k = self.parse_type()?;
                self.expect_punct(',')?;
                let v = self.parse_type()?;
                self.expect_punct(close)?;
                Kind::Map(Box::new(k), Box::new(v))
            }
            "ROW" | "STRUCT" => {
                let close = self.open()?;
                let mut fields = Vec::new();
                if !self.eat_punct(close) {
                    loop {
                        let name = match self.peek() {
                            Some(Tok::Word(w) | Tok::Quoted(w)) => w.clone(),
                            _ => return Err("expected a ROW field name".into()),
                        };
                        self.pos += 1;
                        self.eat_punct(':');
                        let t = self.parse_type()?;
                        // Flink allows a field description: `ROW<a INT 'the a'>`.
                        if self.peek() == Some(&Tok::Str) {
                            self.pos += 1;
                        }
                        fields.push((name, t));
                        if self.eat_punct(close) {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                Kind::Row(fields)
            }
            other => return Err(format!("unsupported type {other}")),
        })
    }

    /// An interval unit with its optional precision (`DAY(2)`, `SECOND(3)`), upper-cased.
    fn interval_unit(&mut self) -> Result<String, String> {
        let unit = match self.peek() {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            _ => return Err("expected an interval unit in type".into()),
        };
        if !["YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"].contains(&unit.as_str()) {
            return Err(format!("unknown interval unit {unit}"));
        }
        self.pos += 1;
        self.precision(if unit == "SECOND" { 6 } else { 2 }, 9)?;
        Ok(unit)
    }

    /// Opens `<` or `(` and returns the matching closer.
    fn open(&mut self) -> Result<char, String> {
        if self.eat_punct('<') {
            Ok('>')
        } else if self.eat_punct('(') {
            Ok(')')
        } else {
            Err("expected '<' in type".into())
        }
    }
}
