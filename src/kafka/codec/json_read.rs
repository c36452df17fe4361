//! JSON to column builders: a small single-pass reader that parses a record's JSON object
//! straight into the builders of the side's columns, without building a JSON tree.
//!
//! Reading straight from the text keeps DECIMAL numbers exact (no detour through `f64`),
//! borrows strings without escapes, and lets a STRING column take any JSON value's text.
//! Unknown fields are skipped (still checked to be valid JSON), missing fields are NULL.

use std::borrow::{BorrowMut, Cow};

use base64::Engine as _;

use super::builder::{Col, Node};
use super::text;

/// Deepest nesting of arrays and objects accepted (bounds the reader's recursion).
const MAX_DEPTH: usize = 128;

/// Why a JSON text could not be read into the columns.
#[derive(Debug)]
pub(super) enum ReadError {
    /// Not JSON at all: what was expected, at which byte.
    Syntax(String, usize),
    /// Valid JSON, but a field does not fit its column: path of the field, and why.
    Field(String, String),
}

impl ReadError {
    fn type_error(msg: String) -> Self {
        ReadError::Field(String::new(), msg)
    }

    /// Prefixes the path of a field error with `segment` (a field name or `[i]`).
    fn within(self, segment: &str) -> Self {
        match self {
            ReadError::Field(path, msg) if path.is_empty() => {
                ReadError::Field(segment.to_string(), msg)
            }
            ReadError::Field(path, msg) if path.starts_with('[') => {
                ReadError::Field(format!("{segment}{path}"), msg)
            }
            ReadError::Field(path, msg) => ReadError::Field(format!("{segment}.{path}"), msg),
            e => e,
        }
    }
}

/// A scalar token as read from the text.
#[derive(Clone, Copy)]
enum Tok<'s> {
    Str(&'s str),
    Num(&'s str),
    Bool(bool),
}

impl Tok<'_> {
    fn shown(&self) -> String {
        match self {
            Tok::Str(s) => format!("\"{}\"", text::quote(s)),
            Tok::Num(n) => text::quote(n),
            Tok::Bool(b) => b.to_string(),
        }
    }
}

/// Reads the JSON object `text` into `fields` (matched by name); `seen` is scratch space
/// of the same length. `what` names the part (`key` / `value`) in messages.
pub(super) fn read_record<N: BorrowMut<Node>>(
    what: &str,
    text: &str,
    fields: &mut [N],
    seen: &mut [bool],
) -> Result<(), String> {
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        pos: 0,
    };
    let result = match r.peek() {
        Some(b'{') => r.read_fields(fields, seen, 0),
        Some(_) => r.skip_value(0).and_then(|()| {
            Err(ReadError::Syntax(
                format!("expected a JSON object, got {}", text::quote(text.trim())),
                usize::MAX,
            ))
        }),
        None => Err(ReadError::Syntax("EOF while parsing a value".into(), r.pos)),
    }
    .and_then(|()| match r.peek() {
        None => Ok(()),
        Some(_) => Err(ReadError::Syntax("trailing characters".into(), r.pos)),
    });
    result.map_err(|e| match e {
        ReadError::Syntax(msg, usize::MAX) => format!("{what} is not a JSON object: {msg}"),
        ReadError::Syntax(msg, pos) => {
            let (line, col) = line_col(text, pos);
            format!("{what} is not valid JSON: {msg} at line {line} column {col}")
        }
        ReadError::Field(path, msg) => format!("field `{path}`: {msg}"),
    })
}

fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..pos.min(text.len())];
    let line = 1 + before.iter().filter(|c| **c == b'\n').count();
    let start = before
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |i| i + 1);
    (line, pos.min(text.len()) - start + 1)
}

struct Reader<'s> {
    s: &'s str,
    b: &'s [u8],
    pos: usize,
}

impl<'s> Reader<'s> {
    /// The next non-whitespace byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    fn syntax(&self, msg: &str) -> ReadError {
        if self.pos >= self.b.len() {
            ReadError::Syntax(format!("EOF while parsing {msg}"), self.pos)
        } else {
            ReadError::Syntax(format!("expected {msg}"), self.pos)
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), ReadError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(what))
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), ReadError> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax("value"))
        }
    }

    /// A string token (at its opening quote).
    fn string(&mut self) -> Result<Cow<'s, str>, ReadError> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Borrowed(&self.s[start..self.pos - 1]));
                }
                b'\\' => break,
                0..=0x1f => return Err(self.syntax("no control character in a string")),
                _ => self.pos += 1,
            }
        }
        let mut out = String::from(&self.s[start..self.pos]);
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(self.syntax("a string"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.pos += 1;
                    let e = self.b.get(self.pos).copied();
                    self.pos += 1;
                    match e {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                if !self.b[self.pos..].starts_with(b"\\u") {
                                    return Err(self.syntax("a low surrogate"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.syntax("a low surrogate"));
                                }
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(ch.ok_or_else(|| self.syntax("a valid unicode escape"))?);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.syntax("a valid escape"));
                        }
                    }
                }
                0..=0x1f => return Err(self.syntax("no control character in a string")),
                _ => {
                    // Copy up to the next quote or escape in one go.
                    let run = self.b[self.pos..]
                        .iter()
                        .position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f))
                        .unwrap_or(self.b.len() - self.pos);
                    out.push_str(&self.s[self.pos..self.pos + run]);
                    self.pos += run;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ReadError> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.syntax("four hex digits"))?;
        self.pos += 4;
        Ok(h)
    }

    /// A number token's text (at its first character).
    fn number(&mut self) -> Result<&'s str, ReadError> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let n = r.b[r.pos..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            r.pos += n;
            n
        };
        if self.b[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.syntax("a digit")),
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.syntax("a digit after the decimal point"));
            }
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.syntax("a digit in the exponent"));
            }
        }
        Ok(&self.s[start..self.pos])
    }

    /// Skips one value, checking its syntax.
    fn skip_value(&mut self, depth: usize) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(ReadError::Syntax("nesting too deep".into(), self.pos));
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'[') => {
                self.pos += 1;
                self.elements(b']', |r, _| r.skip_value(depth + 1))
                    .map(drop)
            }
            Some(b'{') => {
                self.pos += 1;
                self.elements(b'}', |r, _| {
                    r.key()?;
                    r.skip_value(depth + 1)
                })
                .map(drop)
            }
            _ => Err(self.syntax("value")),
        }
    }

    /// The elements of an array or the members of an object, once its opening bracket is
    /// consumed: calls `item` for each (with its index) up to and including `close`, and
    /// returns how many there were.
    fn elements(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self, usize) -> Result<(), ReadError>,
    ) -> Result<usize, ReadError> {
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(0);
        }
        let mut n = 0;
        loop {
            item(self, n)?;
            n += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(n);
                }
                _ if close == b']' => return Err(self.syntax("`,` or `]`")),
                _ => return Err(self.syntax("`,` or `}`")),
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<Cow<'s, str>, ReadError> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax("a field name"));
        }
        let k = self.string()?;
        self.expect(b':', "`:`")?;
        Ok(k)
    }

    /// The text of the next value (skipped).
    fn raw(&mut self, depth: usize) -> Result<&'s str, ReadError> {
        self.peek();
        let start = self.pos;
        self.skip_value(depth)?;
        Ok(&self.s[start..self.pos])
    }

    /// Reads an object (at `{`) into `fields` by name; unseen fields become NULL.
    fn read_fields<N: BorrowMut<Node>>(
        &mut self,
        fields: &mut [N],
        seen: &mut [bool],
        depth: usize,
    ) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(ReadError::Syntax("nesting too deep".into(), self.pos));
        }
        seen.fill(false);
        self.pos += 1;
        self.elements(b'}', |r, ordinal| {
            let key = r.key()?;
            // Producers usually write fields in column order: try that slot first.
            let hit = match fields.get(ordinal) {
                Some(f) if f.borrow().name == key => Some(ordinal),
                _ => fields.iter().position(|f| f.borrow().name == key),
            };
            match hit {
                Some(i) if seen[i] => {
                    Err(ReadError::Field(key.into_owned(), "duplicate field".into()))
                }
                Some(i) => {
                    seen[i] = true;
                    let node = fields[i].borrow_mut();
                    r.read_value(node, depth + 1)
                        .map_err(|e| e.within(&node.name))
                }
                None => r.skip_value(depth + 1),
            }
        })?;
        for (f, seen) in fields.iter_mut().zip(seen.iter()) {
            if !seen {
                let f = f.borrow_mut();
                f.read_null().map_err(|_| {
                    ReadError::Field(f.name.clone(), "missing in a NOT NULL column".into())
                })?;
            }
        }
        Ok(())
    }

    /// Reads one value into `node`.
    fn read_value(&mut self, node: &mut Node, depth: usize) -> Result<(), ReadError> {
        let tok = match self.peek() {
            Some(b'n') => {
                self.literal("null")?;
                return node.read_null().map_err(ReadError::type_error);
            }
            Some(b'"') => {
                let s = self.string()?;
                return put_scalar(node, Tok::Str(&s)).map_err(ReadError::type_error);
            }
            Some(b'-' | b'0'..=b'9') => Tok::Num(self.number()?),
            Some(b't') => {
                self.literal("true")?;
                Tok::Bool(true)
            }
            Some(b'f') => {
                self.literal("false")?;
                Tok::Bool(false)
            }
            Some(b'[') => return self.read_array(node, depth),
            Some(b'{') => return self.read_object(node, depth),
            _ => return Err(self.syntax("value")),
        };
        put_scalar(node, tok).map_err(ReadError::type_error)
    }

    fn read_array(&mut self, node: &mut Node, depth: usize) -> Result<(), ReadError> {
        let Col::List(item, offsets, nulls) = &mut node.col else {
            return self.mismatch(node, depth);
        };
        if depth > MAX_DEPTH {
            return Err(ReadError::Syntax("nesting too deep".into(), self.pos));
        }
        self.pos += 1;
        let n = self.elements(b']', |r, n| {
            r.read_value(item, depth + 1)
                .map_err(|e| e.within(&format!("[{n}]")))
        })?;
        push_offset(offsets, n)?;
        nulls.append_non_null();
        Ok(())
    }

    fn read_object(&mut self, node: &mut Node, depth: usize) -> Result<(), ReadError> {
        match &mut node.col {
            Col::Row(fields, nulls, seen) => {
                self.read_fields(fields, seen, depth)?;
                nulls.append_non_null();
                Ok(())
            }
            Col::Map(k, v, offsets, nulls) => {
                if depth > MAX_DEPTH {
                    return Err(ReadError::Syntax("nesting too deep".into(), self.pos));
                }
                self.pos += 1;
                let n = self.elements(b'}', |r, _| {
                    let key = r.key()?;
                    put_scalar(k, Tok::Str(&key))
                        .map_err(|m| ReadError::Field(format!("[{key}] (key)"), m))?;
                    r.read_value(v, depth + 1)
                        .map_err(|e| e.within(&format!("[{}]", text::quote(&key))))
                })?;
                push_offset(offsets, n)?;
                nulls.append_non_null();
                Ok(())
            }
            _ => self.mismatch(node, depth),
        }
    }

    /// An array or object where `node` wants something else: its JSON text for a STRING
    /// column, an error otherwise.
    fn mismatch(&mut self, node: &mut Node, depth: usize) -> Result<(), ReadError> {
        let raw = self.raw(depth)?;
        if let Col::Str(b) = &mut node.col {
            b.append_value(raw);
            return Ok(());
        }
        Err(ReadError::type_error(format!(
            "expected {}, got {}",
            expected(&node.col),
            text::quote(raw)
        )))
    }
}

fn push_offset(offsets: &mut Vec<i32>, n: usize) -> Result<(), ReadError> {
    let last = *offsets.last().unwrap_or(&0);
    let next = i32::try_from(n)
        .ok()
        .and_then(|n| last.checked_add(n))
        .ok_or_else(|| ReadError::type_error("too many elements in one batch".into()))?;
    offsets.push(next);
    Ok(())
}

/// What a column wants, for messages.
fn expected(col: &Col) -> &'static str {
    match col {
        Col::Bool(_) => "a boolean",
        Col::I8(_) => "a TINYINT",
        Col::I16(_) => "a SMALLINT",
        Col::I32(_) => "an INT",
        Col::I64(_) => "a BIGINT",
        Col::F32(_) | Col::F64(_) => "a number",
        Col::Decimal(..) => "a decimal number",
        Col::Str(_) => "a string",
        Col::Bin(_) => "a base64 string",
        Col::Date(_) => "a date (YYYY-MM-DD or epoch days)",
        Col::Time32(..) | Col::Time64(..) => "a time (hh:mm:ss[.fff])",
        Col::Ts(_, _, false) => "a timestamp (YYYY-MM-DDThh:mm:ss[.fff] or epoch millis)",
        Col::Ts(_, _, true) => "an RFC 3339 timestamp or epoch millis",
        Col::List(..) => "an array",
        Col::Map(..) | Col::Row(..) => "an object",
    }
}

/// Appends a scalar token to `node`, converting it to the column's type.
fn put_scalar(node: &mut Node, tok: Tok<'_>) -> Result<(), String> {
    let want = expected(&node.col);
    let bad = || format!("expected {want}, got {}", tok.shown());
    fn int<T: TryFrom<i64>>(tok: Tok<'_>) -> Option<T> {
        match tok {
            Tok::Num(s) | Tok::Str(s) => s.trim().parse::<i64>().ok()?.try_into().ok(),
            Tok::Bool(_) => None,
        }
    }
    match (&mut node.col, tok) {
        (Col::Bool(b), Tok::Bool(v)) => b.append_value(v),
        (Col::Bool(b), Tok::Str("true")) => b.append_value(true),
        (Col::Bool(b), Tok::Str("false")) => b.append_value(false),
        (Col::I8(b), t) => b.append_value(int(t).ok_or_else(bad)?),
        (Col::I16(b), t) => b.append_value(int(t).ok_or_else(bad)?),
        (Col::I32(b), t) => b.append_value(int(t).ok_or_else(bad)?),
        (Col::I64(b), t) => b.append_value(int(t).ok_or_else(bad)?),
        (Col::F32(b), Tok::Num(s) | Tok::Str(s)) => {
            b.append_value(s.trim().parse().map_err(|_| bad())?)
        }
        (Col::F64(b), Tok::Num(s) | Tok::Str(s)) => {
            b.append_value(s.trim().parse().map_err(|_| bad())?)
        }
        (Col::Decimal(b, p, s), Tok::Num(t) | Tok::Str(t)) => {
            b.append_value(text::parse_decimal(t, *p, *s)?)
        }
        (Col::Str(b), Tok::Str(s) | Tok::Num(s)) => b.append_value(s),
        (Col::Str(b), Tok::Bool(v)) => b.append_value(if v { "true" } else { "false" }),
        (Col::Bin(b), Tok::Str(s)) => b.append_value(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("expected a base64 string, got {} ({e})", tok.shown()))?,
        ),
        (Col::Date(b), Tok::Str(s)) => b.append_value(text::parse_date(s).ok_or_else(bad)?),
        (Col::Date(b), t @ Tok::Num(_)) => b.append_value(int(t).ok_or_else(bad)?),
        (Col::Time32(b, per_sec), t) => {
            let v = time_units(t, *per_sec).ok_or_else(bad)?;
            b.append_value(i32::try_from(v).map_err(|_| bad())?)
        }
        (Col::Time64(b, per_sec), t) => b.append_value(time_units(t, *per_sec).ok_or_else(bad)?),
        (Col::Ts(b, per_sec, ltz), t) => {
            let v = match t {
                Tok::Str(s) => {
                    let parsed = if *ltz {
                        text::parse_timestamp_ltz(s)
                    } else {
                        text::parse_timestamp(s)
                    };
                    parsed.and_then(|(secs, nanos)| text::to_units(secs, nanos, *per_sec))
                }
                Tok::Num(_) => int::<i64>(t).and_then(|ms| millis_to_units(ms, *per_sec)),
                Tok::Bool(_) => None,
            };
            b.append_value(v.ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    Ok(())
}

/// A TIME token (`hh:mm:ss[.f]` or milliseconds of the day) in `per_sec` units.
fn time_units(tok: Tok<'_>, per_sec: i64) -> Option<i64> {
    match tok {
        Tok::Str(s) => {
            let (secs, nanos) = text::parse_time(s)?;
            text::to_units(secs, nanos, per_sec)
        }
        Tok::Num(s) => {
            let ms = s
                .parse::<i64>()
                .ok()
                .filter(|ms| (0..86_400_000).contains(ms))?;
            millis_to_units(ms, per_sec)
        }
        Tok::Bool(_) => None,
    }
}

/// Epoch milliseconds in `per_sec` units (floored for seconds).
pub(super) fn millis_to_units(ms: i64, per_sec: i64) -> Option<i64> {
    if per_sec >= 1_000 {
        ms.checked_mul(per_sec / 1_000)
    } else {
        Some(ms.div_euclid(1_000))
    }
}
