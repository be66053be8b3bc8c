//! The canonical record every line is normalized into.
//!
//! Field names are a contract shared with the index, the archive and the
//! query language: `timestamp`, `observed_timestamp`, `level`,
//! `severity_number`, `message`, `service`, `host`, `trace_id`, `span_id`,
//! `attributes`. Records borrow their strings from the input line
//! (`Cow::Borrowed`) so that normalizing allocates only for nested paths and
//! escaped strings; [`Record::into_owned`] detaches one from its line.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::level::{Level, SeverityNumber};
use crate::producer::Producer;
use crate::timestamp::Timestamp;

/// A JSON value as found in an attribute, strings borrowed from the line.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Only inside arrays: objects directly under the record are flattened
    /// into dotted attribute paths instead.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl Value<'_> {
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::I64(n) => Value::I64(n),
            Value::U64(n) => Value::U64(n),
            Value::F64(n) => Value::F64(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(entries) => {
                Value::Object(entries.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect())
            }
        }
    }

    /// The JSON type name, for notes about type mismatches.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::I64(_) | Value::U64(_) => "integer",
            Value::F64(_) => "float",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::I64(n) => serializer.serialize_i64(*n),
            Value::U64(n) => serializer.serialize_u64(*n),
            Value::F64(n) => serializer.serialize_f64(*n),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key.as_ref(), value)?;
                }
                map.end()
            }
        }
    }
}

/// A value of a field declared in a schema, already coerced to its type.
#[derive(Clone, Debug, PartialEq)]
pub enum TypedValue<'a> {
    /// `string` (exact term) and `text` (full text) fields.
    String(Cow<'a, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Timestamp(Timestamp),
    Ip(IpAddr),
}

impl TypedValue<'_> {
    pub fn into_owned(self) -> TypedValue<'static> {
        match self {
            TypedValue::String(s) => TypedValue::String(Cow::Owned(s.into_owned())),
            TypedValue::I64(n) => TypedValue::I64(n),
            TypedValue::U64(n) => TypedValue::U64(n),
            TypedValue::F64(n) => TypedValue::F64(n),
            TypedValue::Bool(b) => TypedValue::Bool(b),
            TypedValue::Timestamp(t) => TypedValue::Timestamp(t),
            TypedValue::Ip(ip) => TypedValue::Ip(ip),
        }
    }
}

impl Serialize for TypedValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TypedValue::String(s) => serializer.serialize_str(s),
            TypedValue::I64(n) => serializer.serialize_i64(*n),
            TypedValue::U64(n) => serializer.serialize_u64(*n),
            TypedValue::F64(n) => serializer.serialize_f64(*n),
            TypedValue::Bool(b) => serializer.serialize_bool(*b),
            TypedValue::Timestamp(t) => serializer.collect_str(t),
            TypedValue::Ip(ip) => serializer.collect_str(ip),
        }
    }
}

/// Why the normalizer annotated a record. Notes are how a record says what
/// was not as expected without being dropped; they are indexed, so
/// `notes:timestamp_unparseable` finds every record whose time was guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoteCode {
    /// No timestamp field: `timestamp` is the observed time.
    TimestampMissing,
    /// A timestamp field could not be read: `timestamp` is the observed time.
    TimestampUnparseable,
    /// A level field held a value the level table does not know.
    LevelUnrecognized,
    /// A trace or span id was not hexadecimal of the right length.
    TraceContextInvalid,
    /// A declared field's value could not be coerced to its type without loss.
    TypeMismatch,
    /// A `required` field was absent (lenient mode).
    RequiredFieldMissing,
    /// A `deprecated` field name was used.
    DeprecatedField,
}

impl NoteCode {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteCode::TimestampMissing => "timestamp_missing",
            NoteCode::TimestampUnparseable => "timestamp_unparseable",
            NoteCode::LevelUnrecognized => "level_unrecognized",
            NoteCode::TraceContextInvalid => "trace_context_invalid",
            NoteCode::TypeMismatch => "type_mismatch",
            NoteCode::RequiredFieldMissing => "required_field_missing",
            NoteCode::DeprecatedField => "deprecated_field",
        }
    }
}

impl fmt::Display for NoteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One annotation: what happened, to which field, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub code: NoteCode,
    /// The field as the producer named it.
    pub field: String,
    pub detail: String,
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("code", self.code.as_str())?;
        map.serialize_entry("field", &self.field)?;
        map.serialize_entry("detail", &self.detail)?;
        map.end()
    }
}

/// One normalized log record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<'a> {
    /// Event time; the observed time when the producer gave none we could read.
    pub timestamp: Timestamp,
    /// When Sluice received the line.
    pub observed_timestamp: Timestamp,
    pub level: Option<Level>,
    pub severity_number: Option<SeverityNumber>,
    pub message: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    /// Lowercase hexadecimal: 32 digits, or 16 from 64-bit tracers.
    pub trace_id: Option<Cow<'a, str>>,
    /// Lowercase hexadecimal, 16 digits.
    pub span_id: Option<Cow<'a, str>>,
    /// Fields declared in the schema, by name, coerced to their types.
    pub fields: Vec<(Arc<str>, TypedValue<'a>)>,
    /// Every other field: nested objects as dotted paths, JSON types kept.
    pub attributes: Vec<(Cow<'a, str>, Value<'a>)>,
    pub notes: Vec<Note>,
    /// Which producer's format the line was recognised as.
    pub producer: Producer,
}

impl<'a> Record<'a> {
    /// A record with only the times set, for the normalizer to fill in.
    pub fn empty(observed_timestamp: Timestamp) -> Record<'a> {
        Record {
            timestamp: observed_timestamp,
            observed_timestamp,
            level: None,
            severity_number: None,
            message: None,
            service: None,
            host: None,
            trace_id: None,
            span_id: None,
            fields: Vec::new(),
            attributes: Vec::new(),
            notes: Vec::new(),
            producer: Producer::Generic,
        }
    }

    /// Detaches the record from the line it was parsed from.
    pub fn into_owned(self) -> Record<'static> {
        let owned = |s: Option<Cow<'_, str>>| s.map(|s| Cow::Owned(s.into_owned()));
        Record {
            timestamp: self.timestamp,
            observed_timestamp: self.observed_timestamp,
            level: self.level,
            severity_number: self.severity_number,
            message: owned(self.message),
            service: owned(self.service),
            host: owned(self.host),
            trace_id: owned(self.trace_id),
            span_id: owned(self.span_id),
            fields: self.fields.into_iter().map(|(name, value)| (name, value.into_owned())).collect(),
            attributes: self
                .attributes
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
            notes: self.notes,
            producer: self.producer,
        }
    }

    /// The value of an attribute by its dotted path.
    pub fn attribute(&self, path: &str) -> Option<&Value<'a>> {
        self.attributes.iter().find(|(k, _)| k == path).map(|(_, v)| v)
    }

    /// The value of a declared field by name.
    pub fn field(&self, name: &str) -> Option<&TypedValue<'a>> {
        self.fields.iter().find(|(k, _)| k.as_ref() == name).map(|(_, v)| v)
    }

    /// Whether the record carries a note with this code.
    pub fn has_note(&self, code: NoteCode) -> bool {
        self.notes.iter().any(|n| n.code == code)
    }

    /// Appends `attributes` as one JSON object: the archive's `attributes`
    /// column and the index's JSON field both store this form.
    pub fn write_attributes_json(&self, out: &mut Vec<u8>) {
        // Serializing our own values into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &AttributesAsMap(&self.attributes));
    }

    /// Appends `notes` as a JSON array, or nothing when there are none.
    pub fn write_notes_json(&self, out: &mut Vec<u8>) {
        if !self.notes.is_empty() {
            let _ = serde_json::to_writer(&mut *out, &self.notes);
        }
    }

    /// Appends the record as one line of NDJSON (with the trailing newline).
    pub fn write_ndjson(&self, out: &mut Vec<u8>) {
        // Serializing our own types into a Vec cannot fail: every map key is
        // a string and no Serialize impl here returns an error.
        if serde_json::to_writer(&mut *out, self).is_ok() {
            out.push(b'\n');
        }
    }
}

/// Canonical fields first, in contract order; absent ones are omitted.
/// Declared fields sit at the top level beside the canonical ones, the way
/// the archive stores them as columns.
impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("timestamp", &self.timestamp.to_string())?;
        map.serialize_entry("observed_timestamp", &self.observed_timestamp.to_string())?;
        if let Some(level) = self.level {
            map.serialize_entry("level", level.as_str())?;
        }
        if let Some(number) = self.severity_number {
            map.serialize_entry("severity_number", &number.get())?;
        }
        let optional = [
            ("message", &self.message),
            ("service", &self.service),
            ("host", &self.host),
            ("trace_id", &self.trace_id),
            ("span_id", &self.span_id),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                map.serialize_entry(name, value.as_ref())?;
            }
        }
        for (name, value) in &self.fields {
            map.serialize_entry(name.as_ref(), value)?;
        }
        map.serialize_entry("attributes", &AttributesAsMap(&self.attributes))?;
        if !self.notes.is_empty() {
            map.serialize_entry("notes", &self.notes)?;
        }
        map.serialize_entry("producer", self.producer.as_str())?;
        map.end()
    }
}

struct AttributesAsMap<'r, 'a>(&'r [(Cow<'a, str>, Value<'a>)]);

impl Serialize for AttributesAsMap<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key.as_ref(), value)?;
        }
        map.end()
    }
}
