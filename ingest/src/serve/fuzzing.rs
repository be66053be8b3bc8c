//! Entry points for the fuzz targets in `benches/fuzz`: the decoders the
//! server runs on request bodies and on its write-ahead log, which are
//! otherwise private to `serve`, and a normalizer over a data directory.
//! Each takes untrusted bytes and returns what the server would make of
//! them; the contract the targets check is that none of them panics,
//! hangs or allocates without bound, and that what they return is
//! consistent (every line counted once, every line's bytes in the chunk).
//!
//! Not a stable interface: it follows the decoders.

use super::lines::ChunkBuilder;
use super::otlp::Encoding;
use super::{DEFAULT_MAX_BODY_BYTES, elastic, loki, otlp, wal};
use crate::error::IngestError;
pub use crate::pipeline::read::{Chunk, ChunkLine};
use crate::pipeline::{ChunkNormalizer, IngestConfig, Stores};
use crate::summary::Summary;

/// Lines are cut at the server's default limit, as in a request.
const MAX_LINE_BYTES: usize = crate::framing::DEFAULT_MAX_LINE_BYTES;

fn builder() -> ChunkBuilder {
    ChunkBuilder::new("fuzz", None, None, MAX_LINE_BYTES)
}

/// An NDJSON body, framed as `POST /api/v1/ingest` frames it.
pub fn ndjson(body: &[u8], max_line_bytes: usize) -> Chunk {
    let mut lines = ChunkBuilder::new("fuzz", None, None, max_line_bytes);
    lines.push_ndjson(body);
    lines.finish()
}

/// An Elasticsearch `_bulk` body.
pub fn elasticsearch_bulk(body: &[u8]) -> Result<Chunk, String> {
    let mut lines = builder();
    elastic::decode_bulk(body, "fuzz", &mut lines)?;
    Ok(lines.finish())
}

/// A Loki push body: snappy-compressed protobuf, or JSON.
pub fn loki_push(body: &[u8], protobuf: bool) -> Result<Chunk, String> {
    let mut lines = builder();
    loki::decode_push(body, protobuf, DEFAULT_MAX_BODY_BYTES, None, &mut lines)?;
    Ok(lines.finish())
}

/// An OTLP/HTTP logs export body: protobuf, or JSON.
pub fn otlp_logs(body: &[u8], protobuf: bool) -> Result<Chunk, String> {
    let mut lines = builder();
    let encoding = if protobuf { Encoding::Protobuf } else { Encoding::Json };
    otlp::decode_logs(body, encoding, &mut lines)?;
    Ok(lines.finish())
}

/// A write-ahead log entry's payload (what follows the frame's header and
/// checksum); `None` where the log would report it undecodable.
pub fn wal_payload(payload: &[u8]) -> Option<Chunk> {
    wal::decode_entry(payload, 0).ok()
}

/// The payload [`wal_payload`] reads back as `chunk`, for round trips.
pub fn wal_encode(chunk: &Chunk) -> Vec<u8> {
    let mut entry = Vec::new();
    wal::encode_entry(chunk, &mut entry);
    entry
}

/// A request's normalizer over an open data directory (holding its writer
/// lock), under the schema `config` names.
pub struct Normalizing {
    _stores: Stores,
    normalizer: ChunkNormalizer,
}

impl Normalizing {
    pub fn open(config: &IngestConfig) -> Result<Normalizing, IngestError> {
        let stores = Stores::open(config)?;
        let normalizer = stores.chunk_normalizer(config);
        Ok(Normalizing { _stores: stores, normalizer })
    }

    /// Normalizes `chunk` as a server worker does: records, index documents,
    /// archive rows and dead letters. Returns the account of its lines.
    pub fn normalize(&mut self, chunk: Chunk) -> Result<Summary, IngestError> {
        Ok(self.normalizer.normalize(chunk)?.counts)
    }
}

/// A Loki `PushRequest` carrying `lines` in one stream, as protobuf before
/// snappy: a seed for the fuzz corpus.
pub fn loki_protobuf_seed(labels: &str, lines: &[&str]) -> Vec<u8> {
    use prost::Message;
    let entries = lines
        .iter()
        .enumerate()
        .map(|(i, line)| loki::EntryAdapter {
            timestamp: Some(loki::ProtoTimestamp { seconds: 1_700_000_000 + i as i64, nanos: 5 }),
            line: (*line).to_owned(),
            structured_metadata: vec![loki::LabelPairAdapter { name: "trace_id".into(), value: "abc".into() }],
        })
        .collect();
    loki::PushRequest { streams: vec![loki::StreamAdapter { labels: labels.to_owned(), entries }] }.encode_to_vec()
}

/// An OTLP `ExportLogsServiceRequest` carrying `lines` as string bodies, as
/// protobuf: a seed for the fuzz corpus.
pub fn otlp_protobuf_seed(lines: &[&str]) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;
    let text = |s: &str| Some(AnyValue { value: Some(any_value::Value::StringValue(s.to_owned())) });
    let records = lines
        .iter()
        .enumerate()
        .map(|(i, line)| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: text(line),
            attributes: vec![KeyValue { key: "http.status".into(), value: text("200"), ..KeyValue::default() }],
            trace_id: vec![7; 16],
            span_id: vec![3; 8],
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: text("checkout"),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope { name: "app".into(), ..InstrumentationScope::default() }),
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
    .encode_to_vec()
}
