//! A `serde` serializer that writes canonical JSON (keys sorted by UTF-8 bytes, no whitespace,
//! strings and numbers as `serde_json` writes them) straight from any `Serialize` value, so a
//! record is never first copied into a `serde_json::Value` tree.
//!
//! Each object's members are serialized once into one scratch buffer, then copied out in key
//! order. The bytes are those `serde_json::to_value` followed by the sorted writer produced:
//! a `Value` serializes through the same paths (`canonical.rs`'s tests hold both to the
//! reference bytes).

use std::borrow::Cow;
use std::ops::Range;

use serde::Serialize;
use serde::ser::{self, Error as _, Impossible};
use serde_json::Error;

/// Writes `value` as canonical JSON at the end of `out`.
pub(super) fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    value.serialize(Canonical { out })
}

/// The members of a top-level object, sorted, each as its serialized value: what
/// `hashed_line` splices its hash into.
pub(super) struct Members {
    pub(super) bytes: Vec<u8>,
    pub(super) items: Vec<(Cow<'static, str>, Range<usize>)>,
}

/// `value`'s members, when it serializes as an object (a struct or a map).
pub(super) fn members<T: Serialize + ?Sized>(value: &T) -> Result<Members, Error> {
    value.serialize(Top)
}

/// One string or scalar exactly as `serde_json::to_writer` writes it.
pub(super) fn scalar<T: Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Writing a string, number, bool or null into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

struct Canonical<'a> {
    out: &'a mut Vec<u8>,
}

/// Collects an object's members into one buffer.
#[derive(Default)]
struct Collector {
    bytes: Vec<u8>,
    items: Vec<(Cow<'static, str>, Range<usize>)>,
    key: Option<String>,
}

impl Collector {
    fn member<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Error> {
        let start = self.bytes.len();
        write(value, &mut self.bytes)?;
        self.items.push((key, start..self.bytes.len()));
        Ok(())
    }

    fn sorted(mut self) -> Members {
        // Stable: of two equal keys (only a hand-made map has them) the first stays first.
        self.items
            .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Members {
            bytes: self.bytes,
            items: self.items,
        }
    }
}

/// Writes `members` as an object: `{"k":v,…}`.
fn write_object(members: &Members, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (k, range)) in members.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        scalar(k.as_ref(), out);
        out.push(b':');
        out.extend_from_slice(&members.bytes[range.clone()]);
    }
    out.push(b'}');
}

/// Opens `{"variant":` for an enum variant's value.
fn open_variant(variant: &'static str, out: &mut Vec<u8>) {
    out.push(b'{');
    scalar(variant, out);
    out.push(b':');
}

struct Object<'a> {
    out: &'a mut Vec<u8>,
    members: Collector,
    variant: Option<&'static str>,
}

impl Object<'_> {
    fn finish(self) -> Result<(), Error> {
        if let Some(v) = self.variant {
            open_variant(v, self.out);
        }
        write_object(&self.members.sorted(), self.out);
        if self.variant.is_some() {
            self.out.push(b'}');
        }
        Ok(())
    }
}

struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write(value, self.out)
    }

    fn finish(self) -> Result<(), Error> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

macro_rules! scalars {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<(), Error> {
            scalar(&v, self.out);
            Ok(())
        })*
    };
}

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    scalars!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_str: &str);

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        // As `to_value` does: an array of numbers.
        scalar(v, self.out);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        open_variant(variant, self.out);
        write(value, self.out)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a>, Error> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            first: true,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Array<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'a>, Error> {
        open_variant(variant, self.out);
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            first: true,
            variant: true,
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'a>, Error> {
        Ok(Object {
            out: self.out,
            members: Collector::default(),
            variant: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'a>, Error> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'a>, Error> {
        Ok(Object {
            out: self.out,
            members: Collector::default(),
            variant: Some(variant),
        })
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.members.key = Some(key.serialize(KeyText)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .members
            .key
            .take()
            .ok_or_else(|| Error::custom("a map value without its key"))?;
        self.members.member(Cow::Owned(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.members.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.members.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// The text of a map key, as `to_value` makes it: strings as they are, numbers, booleans and
/// chars in their decimal or literal form; anything else is refused.
struct KeyText;

fn not_a_key<T>() -> Result<T, Error> {
    Err(Error::custom("key must be a string"))
}

macro_rules! key_as_text {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<String, Error> {
            Ok(v.to_string())
        })*
    };
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    key_as_text!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_i128: i128, serialize_u8: u8,
        serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
        serialize_char: char, serialize_str: &str);

    fn serialize_f32(self, _: f32) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_f64(self, _: f64) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_none(self) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_unit(self) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        not_a_key()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        not_a_key()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        not_a_key()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        not_a_key()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        not_a_key()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        not_a_key()
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        not_a_key()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        not_a_key()
    }
}

/// The top level of a record: an object, whose members are kept apart rather than written.
struct Top;

struct TopObject(Collector);

fn not_an_object<T>() -> Result<T, Error> {
    Err(Error::custom("a record is not a JSON object"))
}

macro_rules! refused {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, _: $ty) -> Result<Members, Error> {
            not_an_object()
        })*
    };
}

impl ser::Serializer for Top {
    type Ok = Members;
    type Error = Error;
    type SerializeSeq = Impossible<Members, Error>;
    type SerializeTuple = Impossible<Members, Error>;
    type SerializeTupleStruct = Impossible<Members, Error>;
    type SerializeTupleVariant = Impossible<Members, Error>;
    type SerializeMap = TopObject;
    type SerializeStruct = TopObject;
    type SerializeStructVariant = Impossible<Members, Error>;

    refused!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_str: &str,
        serialize_bytes: &[u8], serialize_unit_struct: &'static str);

    fn serialize_none(self) -> Result<Members, Error> {
        not_an_object()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Members, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Members, Error> {
        not_an_object()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Members, Error> {
        not_an_object()
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Members, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Members, Error> {
        not_an_object()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        not_an_object()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        not_an_object()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        not_an_object()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        not_an_object()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<TopObject, Error> {
        Ok(TopObject(Collector::default()))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<TopObject, Error> {
        Ok(TopObject(Collector::default()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        not_an_object()
    }
}

impl ser::SerializeMap for TopObject {
    type Ok = Members;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.0.key = Some(key.serialize(KeyText)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .0
            .key
            .take()
            .ok_or_else(|| Error::custom("a map value without its key"))?;
        self.0.member(Cow::Owned(key), value)
    }
    fn end(self) -> Result<Members, Error> {
        Ok(self.0.sorted())
    }
}

impl ser::SerializeStruct for TopObject {
    type Ok = Members;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.0.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<Members, Error> {
        Ok(self.0.sorted())
    }
}

/// Writes `members` as their object.
pub(super) fn object(members: &Members, out: &mut Vec<u8>) {
    write_object(members, out);
}
