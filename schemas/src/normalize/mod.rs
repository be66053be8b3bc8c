//! The normalizer: one JSON line in, one canonical [`Record`] (or a
//! [`Rejection`] with its reason) out.
//!
//! Per line: simd-json fills a reused tape; one pass over the top-level keys
//! detects the producer; a second pass walks the tape once, flattening
//! nested objects into dotted paths and offering each value to the slot its
//! path is bound to in the producer's [`Plan`](crate::plan). Values no slot
//! takes, and slot values that lose to a better-ranked name or fail to
//! parse, become attributes: nothing the producer wrote is dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use simd_json::{Node, Tape};

use crate::error::ErrorKind;
use crate::plan::CompiledSchema;
use crate::producer::{Producer, detect};
use crate::record::Record;
use crate::timestamp::Timestamp;

mod finish;
mod walk;

use finish::finish;
use walk::{Builder, Walker, node_kind, top_level_markers};

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
    /// When set, every line is read with this producer's profile instead of
    /// the detected one (HTTP's `?schema=`).
    producer: Option<Producer>,
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
            producer: None,
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

    /// The service of records that name none, from now on.
    pub fn set_default_service(&mut self, service: Option<&str>) {
        if self.default_service.as_deref() != service {
            self.default_service = service.map(str::to_owned);
        }
    }

    /// Reads lines as `producer` wrote them, skipping detection; `None`
    /// detects each line's producer again.
    pub fn set_producer(&mut self, producer: Option<Producer>) {
        self.producer = producer;
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
        let producer = self.producer.unwrap_or_else(|| detect(top_level_markers(nodes)));
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
