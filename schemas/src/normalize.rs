//! The normalizer: one JSON line in, one canonical [`Record`] (or a
//! [`Rejection`] with its reason) out.
//!
//! Per line: simd-json fills a reused tape; one pass over the top-level keys
//! detects the producer; a second pass walks the tape once, flattening
//! nested objects into dotted paths and offering each value to the slot its
//! path is bound to in the producer's [`Plan`](crate::plan). Values no slot
//! takes, and slot values that lose to a better-ranked name or fail to
//! parse, become attributes: nothing the producer wrote is dropped.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use simd_json::{Node, StaticNode, Tape};

use crate::coerce::{coerce, preview};
use crate::error::ErrorKind;
use crate::level::{self, LevelConvention, LevelOutcome};
use crate::plan::{Binding, CompiledSchema, Plan, RequiredField};
use crate::producer::{Role, detect, marker_of};
use crate::record::{Note, NoteCode, Record, Value};
use crate::schema::{CanonicalField, Mode};
use crate::timestamp::{self, DefaultZone, EpochUnit, Timestamp, TimestampError};

/// Why a line could not become a record. The set is small and fixed so
/// dead-letter files and metrics can be grouped by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    InvalidJson,
    InvalidUtf8,
    NotAnObject,
    /// Strict mode only: a `required` field was absent.
    MissingRequiredField,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::MissingRequiredField => "missing_required_field",
        }
    }
}

/// A line that was not turned into a record, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct Rejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl Rejection {
    /// Bad input is for whoever produced it to fix.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::UserFixable
    }
}

/// Options that are not part of a schema file.
#[derive(Clone, Debug, Default)]
pub struct NormalizerConfig {
    /// The service of records that name none (`sluice-ingest --service`).
    pub default_service: Option<String>,
}

/// How often each deprecated name was sent, per sending service, so
/// `sluice fields` can say who still has to move.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeprecatedUsage {
    /// (deprecated name, service or "" when unknown) → records.
    counts: BTreeMap<(Arc<str>, String), u64>,
}

impl DeprecatedUsage {
    pub fn merge(&mut self, other: &DeprecatedUsage) {
        for (key, count) in &other.counts {
            *self.counts.entry(key.clone()).or_default() += count;
        }
    }

    /// (deprecated name, service — empty when the record had none, records).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, u64)> {
        self.counts.iter().map(|((name, service), count)| (&**name, service.as_str(), *count))
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// A reusable buffer holding one line followed by the padding simd-json
/// reads past the end of its input. Parsing from it skips the copy
/// [`Normalizer::normalize`] must otherwise make; the pipeline copies each
/// line here once anyway, because parsing unescapes strings in place and a
/// rejected line must be written out as it arrived.
#[derive(Default)]
pub struct LineBuffer {
    bytes: Vec<u8>,
    len: usize,
}

impl LineBuffer {
    pub fn new() -> LineBuffer {
        LineBuffer::default()
    }

    /// Replaces the contents with `line`.
    pub fn fill(&mut self, line: &[u8]) {
        self.bytes.clear();
        self.bytes.reserve(line.len() + simd_json::INPUT_PADDING);
        self.bytes.extend_from_slice(line);
        self.bytes.resize(line.len() + simd_json::INPUT_PADDING, 0);
        self.len = line.len();
    }

    /// The line (after a parse, with strings unescaped in place).
    pub fn line(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Normalizes lines under one schema. Holds reusable parse buffers, so keep
/// one per thread; share the [`CompiledSchema`] between them.
pub struct Normalizer {
    compiled: Arc<CompiledSchema>,
    default_service: Option<String>,
    buffers: simd_json::Buffers,
    tape: Option<Tape<'static>>,
    path: String,
    deprecated_usage: DeprecatedUsage,
}

impl Normalizer {
    pub fn new(compiled: Arc<CompiledSchema>, config: NormalizerConfig) -> Normalizer {
        Normalizer {
            compiled,
            default_service: config.default_service,
            buffers: simd_json::Buffers::new(4096),
            tape: Some(Tape::null()),
            path: String::with_capacity(128),
            deprecated_usage: DeprecatedUsage::default(),
        }
    }

    /// A normalizer for the built-in default schema.
    pub fn with_default_schema() -> Normalizer {
        let compiled = CompiledSchema::new(crate::Schema::builtin());
        Normalizer::new(Arc::new(compiled), NormalizerConfig::default())
    }

    pub fn compiled_schema(&self) -> &Arc<CompiledSchema> {
        &self.compiled
    }

    pub fn deprecated_usage(&self) -> &DeprecatedUsage {
        &self.deprecated_usage
    }

    /// Normalizes one line (without its newline). The record borrows from
    /// `line`, which simd-json unescapes in place: keep a copy of the raw
    /// bytes if a rejected line must be written out verbatim.
    pub fn normalize<'a>(
        &mut self,
        line: &'a mut [u8],
        observed_timestamp: Timestamp,
    ) -> Result<Record<'a>, Rejection> {
        let mut tape: Tape<'a> = self.tape.take().unwrap_or_else(Tape::null).reset();
        let result = match simd_json::fill_tape(line, &mut self.buffers, &mut tape) {
            Ok(()) => self.build(&tape.0, observed_timestamp),
            Err(error) => Err(parse_rejection(&error)),
        };
        self.tape = Some(tape.reset());
        result
    }

    /// Normalizes the line in `buffer` without copying it again.
    pub fn normalize_buffer<'a>(
        &mut self,
        buffer: &'a mut LineBuffer,
        observed_timestamp: Timestamp,
    ) -> Result<Record<'a>, Rejection> {
        let mut tape: Tape<'a> = self.tape.take().unwrap_or_else(Tape::null).reset();
        let len = buffer.len;
        let result = match simd_json::fill_tape_padded(&mut buffer.bytes, len, &mut self.buffers, &mut tape) {
            Ok(()) => self.build(&tape.0, observed_timestamp),
            Err(error) => Err(parse_rejection(&error)),
        };
        self.tape = Some(tape.reset());
        result
    }

    /// Like [`Normalizer::normalize`] on a copy of `line`; for callers that
    /// keep the record beyond the line's buffer.
    pub fn normalize_owned(
        &mut self,
        line: &[u8],
        observed_timestamp: Timestamp,
    ) -> Result<Record<'static>, Rejection> {
        let mut copy = line.to_vec();
        self.normalize(&mut copy, observed_timestamp).map(Record::into_owned)
    }

    fn build<'a>(&mut self, nodes: &[Node<'a>], observed: Timestamp) -> Result<Record<'a>, Rejection> {
        match nodes.first() {
            Some(Node::Object { .. }) => {}
            Some(other) => {
                return Err(Rejection {
                    reason: RejectReason::NotAnObject,
                    detail: format!("expected a JSON object, found {}", node_kind(other)),
                });
            }
            None => {
                return Err(Rejection { reason: RejectReason::InvalidJson, detail: "empty input".into() });
            }
        }
        let producer = detect(top_level_markers(nodes));
        let compiled: &CompiledSchema = &self.compiled;
        let plan = compiled.plan(producer);
        let mut builder = Builder::new(compiled.declared.len(), nodes.len() / 2);
        self.path.clear();
        let mut walker = Walker { plan, path: &mut self.path };
        walker.walk_object(&mut builder, nodes);
        let mut record = Record::empty(observed);
        record.producer = producer;
        finish(compiled, plan, self.default_service.as_deref(), &mut builder, &mut record, &mut self.deprecated_usage)?;
        Ok(record)
    }
}

/// A rejection for bytes simd-json refused. For invalid UTF-8 the position
/// is left to the caller, which holds the raw line (the parse buffer is
/// borrowed by then): see [`invalid_utf8_detail`].
fn parse_rejection(error: &simd_json::Error) -> Rejection {
    if matches!(error.error(), simd_json::ErrorType::InvalidUtf8) {
        return Rejection { reason: RejectReason::InvalidUtf8, detail: "invalid UTF-8".to_owned() };
    }
    use simd_json::ErrorType;
    let (reason, what) = match error.error() {
        ErrorType::ExpectedNull | ErrorType::ExpectedTrue | ErrorType::ExpectedFalse => {
            (RejectReason::InvalidJson, "expected a JSON value".to_owned())
        }
        ErrorType::Syntax | ErrorType::InternalError => (RejectReason::InvalidJson, "syntax error".to_owned()),
        ErrorType::Eof => (RejectReason::InvalidJson, "the line ends inside a JSON value".to_owned()),
        ErrorType::TrailingData => (RejectReason::InvalidJson, "data after the JSON value".to_owned()),
        other => (RejectReason::InvalidJson, format!("{other:?}")),
    };
    let near = error.character().map(|c| format!(" near {c:?}")).unwrap_or_default();
    Rejection { reason, detail: format!("not valid JSON at byte {}{near}: {what}", error.index()) }
}

/// Describes where a raw line stops being UTF-8, for rejection details.
pub fn invalid_utf8_detail(raw_line: &[u8]) -> String {
    match std::str::from_utf8(raw_line) {
        Err(error) => format!("invalid UTF-8 at byte {}", error.valid_up_to()),
        Ok(_) => "invalid UTF-8".to_owned(),
    }
}

fn node_kind(node: &Node<'_>) -> &'static str {
    match node {
        Node::String(_) => "a string",
        Node::Object { .. } => "an object",
        Node::Array { .. } => "an array",
        Node::Static(StaticNode::Null) => "null",
        Node::Static(StaticNode::Bool(_)) => "a boolean",
        Node::Static(_) => "a number",
    }
}

/// Nodes a value occupies on the tape, itself included.
#[inline]
fn node_count(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

fn top_level_markers(nodes: &[Node<'_>]) -> u32 {
    object_keys(nodes).fold(0, |markers, key| markers | marker_of(key))
}

/// Converts a tape subtree to a [`Value`]; leaves (most values) inline.
#[inline]
fn to_value<'a>(nodes: &[Node<'a>]) -> Value<'a> {
    match nodes.first() {
        Some(Node::String(s)) => Value::String(Cow::Borrowed(s)),
        Some(Node::Static(StaticNode::I64(n))) => Value::I64(*n),
        Some(Node::Static(StaticNode::U64(n))) => i64::try_from(*n).map_or(Value::U64(*n), Value::I64),
        Some(Node::Static(StaticNode::F64(n))) => Value::F64(*n),
        Some(Node::Static(StaticNode::Bool(b))) => Value::Bool(*b),
        Some(Node::Static(StaticNode::Null)) | None => Value::Null,
        Some(Node::Object { .. } | Node::Array { .. }) => to_value_nested(nodes),
    }
}

#[inline(never)]
fn to_value_nested<'a>(nodes: &[Node<'a>]) -> Value<'a> {
    fn convert<'a>(nodes: &[Node<'a>], index: &mut usize) -> Value<'a> {
        let Some(node) = nodes.get(*index) else { return Value::Null };
        *index += 1;
        match *node {
            Node::String(s) => Value::String(Cow::Borrowed(s)),
            Node::Static(StaticNode::Null) => Value::Null,
            Node::Static(StaticNode::Bool(b)) => Value::Bool(b),
            Node::Static(StaticNode::I64(n)) => Value::I64(n),
            // simd-json reads every non-negative integer as u64; keep one
            // integer type wherever it fits so columns stay one type.
            Node::Static(StaticNode::U64(n)) => i64::try_from(n).map_or(Value::U64(n), Value::I64),
            Node::Static(StaticNode::F64(n)) => Value::F64(n),
            Node::Array { len, .. } => Value::Array((0..len).map(|_| convert(nodes, index)).collect()),
            Node::Object { len, .. } => Value::Object(
                (0..len)
                    .map(|_| {
                        let key = match nodes.get(*index) {
                            Some(Node::String(k)) => *k,
                            _ => "",
                        };
                        *index += 1;
                        (Cow::Borrowed(key), convert(nodes, index))
                    })
                    .collect(),
            ),
        }
    }
    convert(nodes, &mut 0)
}

/// The canonical slots a record fills.
#[derive(Clone, Copy)]
enum Slot {
    Timestamp,
    TimestampSeconds,
    TimestampNanos,
    Level,
    SeverityNumber,
    Message,
    Service,
    Host,
    TraceId,
    SpanId,
}
const SLOT_COUNT: usize = 10;

fn slot_of(role: Role) -> Option<Slot> {
    Some(match role {
        Role::Timestamp(_) => Slot::Timestamp,
        Role::TimestampSeconds => Slot::TimestampSeconds,
        Role::TimestampNanos => Slot::TimestampNanos,
        Role::Level(_) => Slot::Level,
        Role::SeverityNumber => Slot::SeverityNumber,
        Role::Message => Slot::Message,
        Role::Service => Slot::Service,
        Role::Host => Slot::Host,
        Role::TraceId => Slot::TraceId,
        Role::SpanId => Slot::SpanId,
        Role::Declared(_) | Role::Container(_) | Role::OtlpAttributes => return None,
    })
}

/// A value offered to a slot, with where it came from.
struct Candidate<'a> {
    rank: u16,
    role: Role,
    key: Cow<'a, str>,
    value: Value<'a>,
}

/// Collects a record's pieces during the walk.
struct Builder<'a> {
    slots: [Option<Candidate<'a>>; SLOT_COUNT],
    declared: Vec<Option<Candidate<'a>>>,
    attributes: Vec<(Cow<'a, str>, Value<'a>)>,
    deprecated_hits: Vec<u16>,
}

impl<'a> Builder<'a> {
    fn new(declared_count: usize, attribute_capacity: usize) -> Builder<'a> {
        let mut declared = Vec::new();
        declared.resize_with(declared_count, || None);
        Builder {
            slots: Default::default(),
            declared,
            attributes: Vec::with_capacity(attribute_capacity),
            deprecated_hits: Vec::new(),
        }
    }

    /// Offers a value to the slot its binding names; the better-ranked of
    /// the old and new values stays, the other becomes an attribute.
    fn offer(&mut self, binding: Binding, key: Cow<'a, str>, value: Value<'a>) {
        if let Some(deprecation) = binding.deprecated {
            self.deprecated_hits.push(deprecation);
        }
        let candidate = Candidate { rank: binding.rank, role: binding.role, key, value };
        let place = match binding.role {
            Role::Declared(index) => self.declared.get_mut(usize::from(index)),
            role => slot_of(role).and_then(|slot| self.slots.get_mut(slot as usize)),
        };
        let Some(place) = place else {
            self.attributes.push((candidate.key, candidate.value));
            return;
        };
        let loser = match place {
            Some(existing) if existing.rank <= candidate.rank => Some(candidate),
            _ => place.replace(candidate),
        };
        if let Some(loser) = loser {
            self.attributes.push((loser.key, loser.value));
        }
    }

    fn take(&mut self, slot: Slot) -> Option<Candidate<'a>> {
        self.slots[slot as usize].take()
    }
}

/// Walks a tape object, flattening nested objects into dotted paths.
struct Walker<'p> {
    plan: &'p Plan,
    /// The current prefix: empty at the top level, else ending in `.`.
    path: &'p mut String,
}

impl Walker<'_> {
    fn walk_object<'a>(&mut self, builder: &mut Builder<'a>, nodes: &[Node<'a>]) {
        let Some(&Node::Object { len, .. }) = nodes.first() else { return };
        let mut index = 1;
        for _ in 0..len {
            let Some(&Node::String(key)) = nodes.get(index) else { return };
            index += 1;
            let Some(first) = nodes.get(index) else { return };
            let end = index + node_count(first);
            let Some(value_nodes) = nodes.get(index..end) else { return };
            index = end;
            self.visit(builder, key, value_nodes);
        }
    }

    fn visit<'a>(&mut self, builder: &mut Builder<'a>, key: &'a str, value_nodes: &[Node<'a>]) {
        let prefix_len = self.path.len();
        let binding = if prefix_len == 0 {
            self.plan.lookup(key)
        } else {
            self.path.push_str(key);
            self.plan.lookup(self.path)
        };
        let path_key = |path: &str| -> Cow<'a, str> {
            if prefix_len == 0 { Cow::Borrowed(key) } else { Cow::Owned(path.to_owned()) }
        };
        if prefix_len == 0 {
            // Nested visits and containers below build on the key.
            self.path.push_str(key);
        }
        match (value_nodes.first(), binding) {
            (Some(Node::Object { len, .. }), binding) if *len > 0 => match binding {
                Some(Binding { role: Role::Container(prefix), .. }) => {
                    let saved = std::mem::replace(self.path, prefix.to_owned());
                    self.walk_object(builder, value_nodes);
                    *self.path = saved;
                }
                Some(binding) if takes_this_object(binding.role, value_nodes) => {
                    builder.offer(binding, path_key(self.path), to_value(value_nodes));
                }
                _ => {
                    self.path.push('.');
                    self.walk_object(builder, value_nodes);
                }
            },
            (Some(Node::Array { .. }), Some(Binding { role: Role::OtlpAttributes, .. })) => {
                let saved = std::mem::take(self.path);
                self.path.push_str(if saved.starts_with("resource") { "resource." } else { "" });
                self.visit_otlp_attributes(builder, to_value(value_nodes));
                *self.path = saved;
            }
            (_, Some(binding)) if !matches!(binding.role, Role::Container(_) | Role::OtlpAttributes) => {
                builder.offer(binding, path_key(self.path), to_value(value_nodes));
            }
            _ => {
                builder.attributes.push((path_key(self.path), to_value(value_nodes)));
            }
        }
        self.path.truncate(prefix_len);
    }

    /// OTLP/JSON `[{"key": k, "value": AnyValue}]` into attributes at the current prefix.
    fn visit_otlp_attributes<'a>(&mut self, builder: &mut Builder<'a>, list: Value<'a>) {
        let Value::Array(items) = list else { return };
        let prefix_len = self.path.len();
        for item in items {
            let Value::Object(entries) = item else { continue };
            let mut key = None;
            let mut value = Value::Null;
            for (k, v) in entries {
                match (&*k, v) {
                    ("key", Value::String(s)) => key = Some(s),
                    ("value", v) => value = otlp_any_value(v),
                    _ => {}
                }
            }
            let Some(key) = key else { continue };
            self.path.push_str(&key);
            let full = Cow::Owned(self.path.clone());
            match self.plan.lookup(self.path) {
                Some(binding) if slot_of(binding.role).is_some() || matches!(binding.role, Role::Declared(_)) => {
                    builder.offer(binding, full, value);
                }
                _ => builder.attributes.push((full, value)),
            }
            self.path.truncate(prefix_len);
        }
    }
}

/// Whether a role takes this object whole (rather than its members being
/// flattened): a time object must have seconds, a message object must be an
/// OTLP `AnyValue`. ECS's `"log": {"level": …}` is not a message.
fn takes_this_object(role: Role, nodes: &[Node<'_>]) -> bool {
    let mut keys = object_keys(nodes);
    match role {
        Role::Timestamp(_) => keys.any(|k| k == "seconds" || k == "epochSecond"),
        Role::Message => {
            let first = keys.next();
            first.is_some_and(|k| k.ends_with("Value")) && keys.next().is_none()
        }
        _ => false,
    }
}

/// The keys of a tape object.
fn object_keys<'n, 'a>(nodes: &'n [Node<'a>]) -> impl Iterator<Item = &'a str> + 'n {
    let len = match nodes.first() {
        Some(Node::Object { len, .. }) => *len,
        _ => 0,
    };
    let mut index = 1;
    (0..len).filter_map(move |_| {
        let key = match nodes.get(index) {
            Some(Node::String(k)) => Some(*k),
            _ => None,
        };
        index += 1;
        index += nodes.get(index).map_or(1, node_count);
        key
    })
}

/// OTLP/JSON `AnyValue` (`{"stringValue": "x"}`, `{"intValue": "5"}`, …) to a plain value.
fn otlp_any_value(value: Value<'_>) -> Value<'_> {
    let Value::Object(mut entries) = value else { return value };
    if entries.len() != 1 {
        return Value::Object(entries);
    }
    let Some((kind, inner)) = entries.pop() else { return Value::Null };
    match (&*kind, inner) {
        ("intValue", Value::String(s)) => s.parse::<i64>().map_or(Value::String(s), Value::I64),
        ("stringValue" | "boolValue" | "intValue" | "doubleValue" | "bytesValue", v) => v,
        ("arrayValue", Value::Object(mut fields)) => match fields.pop() {
            Some((_, Value::Array(items))) => Value::Array(items.into_iter().map(otlp_any_value).collect()),
            _ => Value::Array(Vec::new()),
        },
        ("kvlistValue", Value::Object(mut fields)) => match fields.pop() {
            Some((_, Value::Array(items))) => Value::Object(
                items
                    .into_iter()
                    .filter_map(|item| {
                        let Value::Object(kv) = item else { return None };
                        let mut key = None;
                        let mut value = Value::Null;
                        for (k, v) in kv {
                            match (&*k, v) {
                                ("key", Value::String(s)) => key = Some(s),
                                ("value", v) => value = otlp_any_value(v),
                                _ => {}
                            }
                        }
                        Some((key?, value))
                    })
                    .collect(),
            ),
            _ => Value::Object(Vec::new()),
        },
        (kind, inner) => Value::Object(vec![(Cow::Owned(kind.to_owned()), inner)]),
    }
}

/// Turns the collected candidates into the record's canonical fields.
fn finish<'a>(
    compiled: &CompiledSchema,
    plan: &Plan,
    default_service: Option<&str>,
    builder: &mut Builder<'a>,
    record: &mut Record<'a>,
    deprecated_usage: &mut DeprecatedUsage,
) -> Result<(), Rejection> {
    let zone = &compiled.schema.time_zone;
    let mut notes = Vec::new();
    let mut back_to_attributes = Vec::new();

    // Time.
    let seconds = builder.take(Slot::TimestampSeconds);
    let nanos = builder.take(Slot::TimestampNanos);
    let mut timestamp_present = false;
    if let Some(candidate) = builder.take(Slot::Timestamp) {
        let unit = match candidate.role {
            Role::Timestamp(unit) => unit,
            _ => EpochUnit::Auto,
        };
        match read_timestamp(&candidate.value, unit, zone) {
            Ok(ts) => {
                record.timestamp = ts;
                timestamp_present = true;
            }
            Err(error) => {
                notes.push(Note {
                    code: NoteCode::TimestampUnparseable,
                    field: candidate.key.to_string(),
                    detail: format!("{error}, found {}; using the observed time", preview(&candidate.value)),
                });
                back_to_attributes.push(candidate);
            }
        }
    }
    if let Some(seconds) = seconds {
        let nanos_value = nanos.as_ref().and_then(|n| as_i64(&n.value)).unwrap_or(0);
        match as_i64(&seconds.value).and_then(|s| Timestamp::from_parts(s, nanos_value)) {
            Some(ts) if !timestamp_present => {
                record.timestamp = ts;
                timestamp_present = true;
                notes.retain(|n: &Note| n.code != NoteCode::TimestampUnparseable);
            }
            _ => back_to_attributes.push(seconds),
        }
        back_to_attributes.extend(nanos.filter(|_| !timestamp_present));
    } else if let Some(nanos) = nanos {
        back_to_attributes.push(nanos);
    }
    if !timestamp_present && notes.is_empty() {
        notes.push(Note {
            code: NoteCode::TimestampMissing,
            field: String::new(),
            detail: "no timestamp field found; using the observed time".into(),
        });
    }

    // Level: a valid OpenTelemetry severity number wins over a level text.
    let number = builder.take(Slot::SeverityNumber);
    let text = builder.take(Slot::Level);
    let parsed_number = number.as_ref().and_then(|c| match read_level(&c.value, LevelConvention::OpenTelemetry) {
        LevelOutcome::Parsed(parsed) => Some(parsed),
        _ => None,
    });
    let parsed_text = text.as_ref().map(|c| {
        let convention = match c.role {
            Role::Level(convention) => convention,
            _ => LevelConvention::Generic,
        };
        read_level(&c.value, convention)
    });
    match (parsed_number, parsed_text) {
        (Some(parsed), _) | (None, Some(LevelOutcome::Parsed(parsed))) => {
            record.level = Some(parsed.level);
            record.severity_number = Some(parsed.severity_number);
        }
        (None, Some(LevelOutcome::Unrecognized)) => {
            if let Some(c) = &text {
                notes.push(Note {
                    code: NoteCode::LevelUnrecognized,
                    field: c.key.to_string(),
                    detail: format!("{} is not a known level; see the level table in the docs", preview(&c.value)),
                });
            }
        }
        (None, Some(LevelOutcome::Unspecified) | None) => {}
    }
    if record.level.is_none() {
        back_to_attributes.extend(text);
    }
    if parsed_number.is_none() {
        back_to_attributes.extend(number);
    }

    // Strings.
    for (slot, target) in
        [(Slot::Message, &mut record.message), (Slot::Service, &mut record.service), (Slot::Host, &mut record.host)]
    {
        let Some(candidate) = builder.take(slot) else { continue };
        match into_text(candidate.value) {
            Ok(text) => {
                *target = Some(match slot {
                    Slot::Message => trim_line_end(text),
                    _ => text,
                });
            }
            Err(value) => back_to_attributes.push(Candidate { value, ..candidate }),
        }
    }

    // Trace context.
    for (slot, target, digits, name) in [
        (Slot::TraceId, &mut record.trace_id, &[32usize, 16][..], "trace id"),
        (Slot::SpanId, &mut record.span_id, &[16usize][..], "span id"),
    ] {
        let Some(candidate) = builder.take(slot) else { continue };
        let normalized = match &candidate.value {
            Value::String(s) => normalize_hex_id(s, digits),
            _ => None,
        };
        match normalized {
            Some(id) => *target = Some(id),
            None => {
                notes.push(Note {
                    code: NoteCode::TraceContextInvalid,
                    field: candidate.key.to_string(),
                    detail: format!(
                        "expected a {name} of {} hexadecimal digits, found {}",
                        digits.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "),
                        preview(&candidate.value)
                    ),
                });
                back_to_attributes.push(candidate);
            }
        }
    }

    if record.service.is_none() {
        record.service = plan.constant_service.or(default_service).map(|s| Cow::Owned(s.to_owned()));
    }

    // Declared fields.
    for (index, candidate) in builder.declared.iter_mut().enumerate() {
        let Some(candidate) = candidate.take() else { continue };
        let Some(field) = compiled.declared.get(index) else { continue };
        match coerce(candidate.value, field.field_type, zone) {
            Ok(typed) => record.fields.push((field.name.clone(), typed)),
            Err(value) => {
                notes.push(Note {
                    code: NoteCode::TypeMismatch,
                    field: candidate.key.to_string(),
                    detail: format!(
                        "declared as `{}` of type {}, found {} {}; kept in attributes",
                        field.name,
                        field.field_type,
                        value.type_name(),
                        preview(&value)
                    ),
                });
                builder.attributes.push((candidate.key, value));
            }
        }
    }

    // Required fields.
    for required in &compiled.required {
        let (present, name) = match required {
            RequiredField::Canonical(field) => (canonical_present(record, *field, timestamp_present), field.name()),
            RequiredField::Declared(index) => {
                let Some(field) = compiled.declared.get(usize::from(*index)) else { continue };
                (record.field(&field.name).is_some(), &*field.name)
            }
        };
        if present {
            continue;
        }
        if compiled.schema.mode == Mode::Strict {
            return Err(Rejection {
                reason: RejectReason::MissingRequiredField,
                detail: format!("required field `{name}` is missing (schema `{}` is strict)", compiled.schema.name),
            });
        }
        notes.push(Note {
            code: NoteCode::RequiredFieldMissing,
            field: name.to_owned(),
            detail: format!("required field `{name}` is missing"),
        });
    }

    // Deprecated names, counted per sending service.
    for index in builder.deprecated_hits.drain(..) {
        let Some(deprecated) = compiled.deprecations.get(usize::from(index)) else { continue };
        let service = record.service.as_deref().unwrap_or("").to_owned();
        *deprecated_usage.counts.entry((deprecated.name.clone(), service)).or_default() += 1;
        notes.push(Note {
            code: NoteCode::DeprecatedField,
            field: deprecated.name.to_string(),
            detail: format!(
                "`{}` is deprecated: send `{}` instead (sunset {})",
                deprecated.name, deprecated.replacement, deprecated.sunset
            ),
        });
    }

    builder.attributes.extend(back_to_attributes.into_iter().map(|c| (c.key, c.value)));
    record.attributes = std::mem::take(&mut builder.attributes);
    record.notes = notes;
    Ok(())
}

fn canonical_present(record: &Record<'_>, field: CanonicalField, timestamp_present: bool) -> bool {
    match field {
        CanonicalField::Timestamp => timestamp_present,
        CanonicalField::Level => record.level.is_some(),
        CanonicalField::SeverityNumber => record.severity_number.is_some(),
        CanonicalField::Message => record.message.is_some(),
        CanonicalField::Service => record.service.is_some(),
        CanonicalField::Host => record.host.is_some(),
        CanonicalField::TraceId => record.trace_id.is_some(),
        CanonicalField::SpanId => record.span_id.is_some(),
    }
}

fn as_i64(value: &Value<'_>) -> Option<i64> {
    match value {
        Value::I64(n) => Some(*n),
        Value::U64(n) => i64::try_from(*n).ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Reads any timestamp form: text, an epoch number, or a `{seconds, nanos}`-shaped object.
fn read_timestamp(value: &Value<'_>, unit: EpochUnit, zone: &DefaultZone) -> Result<Timestamp, TimestampError> {
    match value {
        Value::String(s) => timestamp::parse_text(s, unit, zone),
        Value::I64(n) => timestamp::from_epoch_i64(*n, unit),
        Value::U64(n) => i64::try_from(*n)
            .map_err(|_| TimestampError("timestamp outside 1677-09-21..2262-04-11"))
            .and_then(|n| timestamp::from_epoch_i64(n, unit)),
        Value::F64(n) => timestamp::from_epoch_f64(*n, unit),
        Value::Object(entries) => {
            let get =
                |names: &[&str]| entries.iter().find(|(k, _)| names.contains(&k.as_ref())).and_then(|(_, v)| as_i64(v));
            let seconds = get(&["seconds", "epochSecond"]);
            let nanos = get(&["nanos", "nanoOfSecond"]).unwrap_or(0);
            seconds.and_then(|s| Timestamp::from_parts(s, nanos)).ok_or(TimestampError(
                "expected an object with `seconds` and `nanos` (or `epochSecond` and `nanoOfSecond`)",
            ))
        }
        _ => Err(TimestampError("expected a string, a number or a {seconds, nanos} object")),
    }
}

fn read_level(value: &Value<'_>, convention: LevelConvention) -> LevelOutcome {
    match value {
        Value::String(s) => level::parse_level_text(s, convention),
        Value::I64(n) => level::parse_level_number(*n, convention),
        Value::U64(n) => {
            i64::try_from(*n).map_or(LevelOutcome::Unrecognized, |n| level::parse_level_number(n, convention))
        }
        Value::F64(n) if n.fract() == 0.0 && n.abs() < 1e6 => level::parse_level_number(*n as i64, convention),
        _ => LevelOutcome::Unrecognized,
    }
}

/// Strings stay as they are; numbers and booleans become their JSON text.
/// An OTLP `{"stringValue": …}` body is unwrapped.
fn into_text(value: Value<'_>) -> Result<Cow<'_, str>, Value<'_>> {
    match value {
        Value::String(s) => Ok(s),
        Value::I64(n) => Ok(Cow::Owned(n.to_string())),
        Value::U64(n) => Ok(Cow::Owned(n.to_string())),
        Value::F64(n) => Ok(Cow::Owned(n.to_string())),
        Value::Bool(b) => Ok(Cow::Owned(b.to_string())),
        Value::Object(entries) if entries.len() == 1 && entries[0].0 == "stringValue" => {
            match entries.into_iter().next() {
                Some((_, Value::String(s))) => Ok(s),
                Some((k, v)) => Err(Value::Object(vec![(k, v)])),
                None => Err(Value::Null),
            }
        }
        other => Err(other),
    }
}

/// Drops one trailing `\n` or `\r\n` (Docker's `log`, journald's `MESSAGE`).
fn trim_line_end(text: Cow<'_, str>) -> Cow<'_, str> {
    let trimmed_len = text.strip_suffix('\n').map_or(text.len(), |t| t.strip_suffix('\r').unwrap_or(t).len());
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..trimmed_len]),
        Cow::Owned(mut s) => {
            s.truncate(trimmed_len);
            Cow::Owned(s)
        }
    }
}

/// Lowercase hex of one of the accepted lengths, not all zeros (W3C's
/// invalid id). GCP's `projects/P/traces/ID` form is reduced to `ID`.
fn normalize_hex_id<'a>(text: &Cow<'a, str>, digits: &[usize]) -> Option<Cow<'a, str>> {
    if digits.contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return text.bytes().any(|b| b != b'0').then(|| text.clone());
    }
    // GCP: `projects/P/traces/ID`. A byte search for the last `/` (memrchr)
    // rather than a substring search, which costs a searcher set-up per id.
    let id_start = match text.rfind('/') {
        Some(slash) if text[..slash].ends_with("/traces") => slash + 1,
        _ => 0,
    };
    let id: Cow<'a, str> = match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[id_start..]),
        Cow::Owned(s) => Cow::Owned(s[id_start..].to_owned()),
    };
    let valid =
        digits.contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0');
    if !valid {
        return None;
    }
    if id.bytes().any(|b| b.is_ascii_uppercase()) { Some(Cow::Owned(id.to_ascii_lowercase())) } else { Some(id) }
}
