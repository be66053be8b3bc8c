//! The tantivy schema of a Sluice split, and records turned into documents.
//!
//! The index stores no documents: the archive holds every record. It holds
//! what search and aggregation need: `message` full text (with positions,
//! for phrases); `level`, `service`, `host`, `trace_id`, `span_id` and
//! `producer` as exact terms, columnar ("fast") for counting; `timestamp`
//! fast only (range queries and sorting read the column) at ns precision; `severity_number`;
//! `attributes` as a JSON field searchable by dotted path (`http.status:500`);
//! `notes` codes; declared schema fields with their own types and flags; and
//! `batch` + `row`, which locate the record's row in the archive.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use sluice_schemas::{FieldType, Producer, Record, Schema, TypedValue, Value};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, IpAddrOptions, JsonObjectOptions, NumericOptions,
    Schema as TantivySchema, TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime, TantivyDocument};

/// Field handles of a split's schema.
#[derive(Clone, Debug)]
pub struct IndexFields {
    pub schema: TantivySchema,
    pub timestamp: Field,
    pub severity_number: Field,
    pub level: Field,
    pub message: Field,
    pub service: Field,
    pub host: Field,
    pub trace_id: Field,
    pub span_id: Field,
    pub attributes: Field,
    pub notes: Field,
    pub producer: Field,
    /// The ingest batch that wrote the record (rollback after a crash deletes by it).
    pub batch: Field,
    /// The record's row in its batch's archive file for its hour.
    pub row: Field,
    pub declared: Vec<(Field, FieldType, std::sync::Arc<str>)>,
}

impl IndexFields {
    pub fn new(schema: &Schema) -> IndexFields {
        let mut builder = TantivySchema::builder();
        // Fast only, not indexed: tantivy answers range queries on a fast
        // field from the column (at full ns precision), and sorting uses the
        // column too. An inverted index of seconds cost 8% of the index.
        let nanos_date = DateOptions::default().set_fast().set_precision(DateTimePrecision::Nanoseconds);
        let timestamp = builder.add_date_field("timestamp", nanos_date);
        let severity_number = builder.add_u64_field("severity_number", numeric(true, true));
        let level = builder.add_text_field("level", exact_term(true));
        let message = builder.add_text_field("message", full_text(IndexRecordOption::WithFreqsAndPositions));
        let service = builder.add_text_field("service", exact_term(true));
        let host = builder.add_text_field("host", exact_term(true));
        let trace_id = builder.add_text_field("trace_id", exact_term(false));
        let span_id = builder.add_text_field("span_id", exact_term(false));
        // Attribute values are tokenized like messages (lowercased words), so
        // `user:steve` and `http.status:500` match regardless of case.
        let attributes = builder.add_json_field(
            "attributes",
            JsonObjectOptions::default()
                .set_indexing_options(indexing("default", IndexRecordOption::Basic))
                .set_expand_dots_enabled(),
        );
        let notes = builder.add_text_field("notes", exact_term(false));
        let producer = builder.add_text_field("producer", exact_term(true));
        let batch = builder.add_u64_field("batch", numeric(true, true));
        let row = builder.add_u64_field("row", numeric(false, true));
        let mut declared = Vec::new();
        for field in schema.extra_fields().filter(|f| f.deprecated.is_none()) {
            let name = field.name.as_ref();
            let handle = match field.field_type {
                FieldType::String | FieldType::Text => {
                    let mut options = TextOptions::default();
                    if field.indexed {
                        let tokenizer = if field.field_type == FieldType::Text { "default" } else { "raw" };
                        options =
                            options.set_indexing_options(indexing(tokenizer, IndexRecordOption::WithFreqsAndPositions));
                    }
                    if field.fast {
                        options = options.set_fast("raw");
                    }
                    builder.add_text_field(name, options)
                }
                FieldType::I64 => builder.add_i64_field(name, numeric(field.indexed, field.fast)),
                FieldType::U64 => builder.add_u64_field(name, numeric(field.indexed, field.fast)),
                FieldType::F64 => builder.add_f64_field(name, numeric(field.indexed, field.fast)),
                FieldType::Bool => builder.add_bool_field(name, numeric(field.indexed, field.fast)),
                FieldType::Timestamp => {
                    let mut options = DateOptions::default().set_precision(DateTimePrecision::Nanoseconds);
                    if field.indexed {
                        options = options.set_indexed();
                    }
                    if field.fast {
                        options = options.set_fast();
                    }
                    builder.add_date_field(name, options)
                }
                FieldType::Ip => {
                    let mut options = IpAddrOptions::default();
                    if field.indexed {
                        options = options.set_indexed();
                    }
                    if field.fast {
                        options = options.set_fast();
                    }
                    builder.add_ip_addr_field(name, options)
                }
            };
            declared.push((handle, field.field_type, field.name.clone()));
        }
        IndexFields {
            schema: builder.build(),
            timestamp,
            severity_number,
            level,
            message,
            service,
            host,
            trace_id,
            span_id,
            attributes,
            notes,
            producer,
            batch,
            row,
            declared,
        }
    }

    /// The document for a record at `row` of `batch`.
    pub fn document(&self, record: &Record<'_>, batch: u64, row: u64) -> TantivyDocument {
        let mut doc = self.unlocated_document(record);
        self.locate(&mut doc, batch, row);
        doc
    }

    /// Adds where the record lives in the archive: its batch and its row in
    /// that batch's file for its hour.
    pub fn locate(&self, doc: &mut TantivyDocument, batch: u64, row: u64) {
        doc.add_u64(self.batch, batch);
        doc.add_u64(self.row, row);
    }

    /// The document for a record without its archive location, which is
    /// known only once its batch is sorted: the pipeline builds documents in
    /// parallel and calls [`IndexFields::locate`] when it commits the batch.
    pub fn unlocated_document(&self, record: &Record<'_>) -> TantivyDocument {
        let mut doc = TantivyDocument::with_capacity(serialized_size_hint(record));
        doc.add_date(self.timestamp, DateTime::from_timestamp_nanos(record.timestamp.as_nanos()));
        if let Some(number) = record.severity_number {
            doc.add_u64(self.severity_number, u64::from(number.get()));
        }
        if let Some(level) = record.level {
            doc.add_text(self.level, level.as_str());
        }
        let texts = [
            (self.message, &record.message),
            (self.service, &record.service),
            (self.host, &record.host),
            (self.trace_id, &record.trace_id),
            (self.span_id, &record.span_id),
        ];
        for (field, value) in texts {
            if let Some(value) = value {
                doc.add_text(field, value);
            }
        }
        if !record.attributes.is_empty() {
            doc.add_field_value(self.attributes, JsonView::Object(&record.attributes));
        }
        for note in &record.notes {
            doc.add_text(self.notes, note.code.as_str());
        }
        doc.add_text(self.producer, record.producer.as_str());
        for (field, _, name) in &self.declared {
            match record.field(name) {
                Some(TypedValue::String(s)) => doc.add_text(*field, s),
                Some(TypedValue::I64(n)) => doc.add_i64(*field, *n),
                Some(TypedValue::U64(n)) => doc.add_u64(*field, *n),
                Some(TypedValue::F64(n)) => doc.add_f64(*field, *n),
                Some(TypedValue::Bool(b)) => doc.add_bool(*field, *b),
                Some(TypedValue::Timestamp(t)) => doc.add_date(*field, DateTime::from_timestamp_nanos(t.as_nanos())),
                Some(TypedValue::Ip(ip)) => doc.add_ip_addr(*field, ipv6(*ip)),
                None => {}
            }
        }
        doc
    }
}

/// The key a batch's documents are grouped by before they are added to
/// tantivy (time order is kept within a group): producer, then service,
/// then the message's first few words made only of letters (its template,
/// before the variables). The archive row is what fixes time order; the
/// index only needs doc ids that keep similar records together. Then a term
/// that belongs to one kind of record (an attribute path, a template's
/// words, a service name) has postings whose doc-id gaps are mostly 1, which
/// bitpack into a bit or two: on the 1 GB benchmark corpus the index is 19%
/// smaller than in time order. Hits are ordered by the `timestamp` column,
/// never by doc id, so queries do not see the difference.
///
/// The order of the parts matters: records of one producer share attribute
/// paths, and records of one service share words, so those stay adjacent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    producer: Producer,
    service: u64,
    template: u64,
}

impl GroupKey {
    pub fn of(record: &Record<'_>) -> GroupKey {
        use std::hash::{Hash, Hasher};
        let mut service = rustc_hash::FxHasher::default();
        record.service.as_deref().hash(&mut service);
        let template = template_key(record.message.as_deref().unwrap_or(""));
        GroupKey { producer: record.producer, service: service.finish(), template }
    }
}

/// A message's template, as a hash: its first few words made only of
/// letters, before the variables. Records with the same key share most of
/// their words; ingest groups index documents by it, and compaction orders
/// archive rows by it.
pub fn template_key(message: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    /// Enough words to tell templates apart, few enough to stop before
    /// the first variable in most messages.
    const TEMPLATE_WORDS: usize = 4;
    // FxHash: seedless, so a record groups the same way in every run, and
    // a few times cheaper than SipHash, which took 1.3% of ingest's CPU here.
    let mut template = rustc_hash::FxHasher::default();
    let words = message.split_ascii_whitespace().filter(|word| word.bytes().all(|b| b.is_ascii_alphabetic()));
    for word in words.take(TEMPLATE_WORDS) {
        word.hash(&mut template);
    }
    template.finish()
}

/// Indexing without fieldnorms. Fieldnorms (one byte per document and
/// field) only serve BM25 length normalisation, and Sluice orders hits by
/// time, never by score: on a mixed corpus they were 14% of the index.
fn indexing(tokenizer: &str, record: IndexRecordOption) -> TextFieldIndexing {
    TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(record).set_fieldnorms(false)
}

/// Full text (the `default` tokenizer: split on non-alphanumerics, lowercase).
fn full_text(record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(indexing("default", record))
}

/// One term per value, matched exactly; `fast` adds a column for aggregations.
fn exact_term(fast: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(indexing("raw", IndexRecordOption::Basic));
    if fast { options.set_fast("raw") } else { options }
}

/// `NumericOptions` without fieldnorms (the `INDEXED` flag turns them on).
fn numeric(indexed: bool, fast: bool) -> NumericOptions {
    let mut options = NumericOptions::default();
    if indexed {
        options = options.set_indexed();
    }
    if fast {
        options = options.set_fast();
    }
    options
}

fn ipv6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The bytes a record's document takes in tantivy's [`TantivyDocument`]
/// (its texts plus a few bytes of addressing per value), so the document is
/// allocated once at about its size. `TantivyDocument::new()` reserves
/// 1 KiB: four times a typical log record, and those pages, allocated on a
/// worker and freed by tantivy's indexing thread, were a tenth of ingest's
/// CPU in page faults.
fn serialized_size_hint(record: &Record<'_>) -> usize {
    const PER_VALUE: usize = 12;
    let texts = [&record.message, &record.service, &record.host, &record.trace_id, &record.span_id];
    let text_bytes: usize = texts.into_iter().flatten().map(|text| text.len() + PER_VALUE).sum();
    let attribute_bytes: usize = record.attributes.iter().map(|(key, value)| key.len() + value_size_hint(value)).sum();
    let declared_bytes = record.fields.len() * 2 * PER_VALUE;
    64 + text_bytes + attribute_bytes + declared_bytes + record.notes.len() * 2 * PER_VALUE
}

fn value_size_hint(value: &Value<'_>) -> usize {
    const PER_VALUE: usize = 12;
    match value {
        Value::String(text) => text.len() + PER_VALUE,
        Value::Array(items) => items.iter().map(value_size_hint).sum::<usize>() + PER_VALUE,
        Value::Object(entries) => {
            entries.iter().map(|(key, value)| key.len() + PER_VALUE + value_size_hint(value)).sum::<usize>() + PER_VALUE
        }
        _ => 2 * PER_VALUE,
    }
}

/// A record's attributes as tantivy reads a JSON value, borrowed from the
/// record: building an `OwnedValue` tree first copied every key and string
/// once more.
#[derive(Debug, Clone, Copy)]
enum JsonView<'a, 'r> {
    /// The record's top-level attributes (dotted paths, expanded by the field).
    Object(&'a [(Cow<'r, str>, Value<'r>)]),
    Value(&'a Value<'r>),
}

type JsonEntry<'a, 'r> = &'a (Cow<'r, str>, Value<'r>);

fn json_entry<'a, 'r>((key, value): JsonEntry<'a, 'r>) -> (&'a str, JsonView<'a, 'r>) {
    (key.as_ref(), JsonView::Value(value))
}

impl<'a, 'r: 'a> tantivy::schema::Value<'a> for JsonView<'a, 'r> {
    type ArrayIter = std::iter::Map<std::slice::Iter<'a, Value<'r>>, fn(&'a Value<'r>) -> JsonView<'a, 'r>>;
    type ObjectIter = std::iter::Map<
        std::slice::Iter<'a, (Cow<'r, str>, Value<'r>)>,
        fn(JsonEntry<'a, 'r>) -> (&'a str, JsonView<'a, 'r>),
    >;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        let entries = match *self {
            JsonView::Object(entries) => entries,
            JsonView::Value(Value::Object(entries)) => entries.as_slice(),
            JsonView::Value(Value::Array(items)) => {
                return ReferenceValue::Array(items.iter().map(JsonView::Value as fn(_) -> _));
            }
            JsonView::Value(Value::Null) => return ReferenceValueLeaf::Null.into(),
            JsonView::Value(Value::Bool(b)) => return ReferenceValueLeaf::Bool(*b).into(),
            JsonView::Value(Value::I64(n)) => return ReferenceValueLeaf::I64(*n).into(),
            JsonView::Value(Value::U64(n)) => return ReferenceValueLeaf::U64(*n).into(),
            JsonView::Value(Value::F64(n)) => return ReferenceValueLeaf::F64(*n).into(),
            JsonView::Value(Value::String(text)) => return ReferenceValueLeaf::Str(text.as_ref()).into(),
        };
        ReferenceValue::Object(entries.iter().map(json_entry as fn(_) -> _))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_schemas::{CompiledSchema, Normalizer, NormalizerConfig, Timestamp};
    use tantivy::schema::document::Document;

    use super::*;

    fn group_of(line: &str) -> GroupKey {
        let mut normalizer =
            Normalizer::new(Arc::new(CompiledSchema::new(Schema::builtin())), NormalizerConfig::default());
        GroupKey::of(&normalizer.normalize_owned(line.as_bytes(), Timestamp::from_nanos(0)).unwrap())
    }

    /// One template, whatever its variables, is one group; other words,
    /// another service or another producer make another. Producer comes first.
    #[test]
    fn records_group_by_producer_service_and_template() {
        let sshd = |message: &str| format!(r#"{{"level":"info","service":"sshd","message":"{message}"}}"#);
        let failed = group_of(&sshd("Failed password for root from 10.0.0.1 port 22 ssh2"));
        assert_eq!(failed, group_of(&sshd("Failed password for root from 192.168.7.9 port 4711 ssh2")));
        assert_eq!(failed, group_of(&sshd("Failed password for root from 10.0.0.1 port 22")));
        assert_ne!(failed, group_of(&sshd("Accepted password for root from 10.0.0.1 port 22 ssh2")));
        let other_service = r#"{"level":"info","service":"cron","message":"Failed password for root"}"#;
        assert_ne!(failed, group_of(other_service));
        let pino =
            group_of(r#"{"level":30,"time":1709287199000,"pid":1,"hostname":"h","msg":"Failed password for root"}"#);
        assert_eq!(pino.producer, Producer::Pino);
        assert_eq!(failed.producer, Producer::Generic);
        assert!(failed < pino, "groups order by producer first");
    }

    /// The document holds every attribute as tantivy's JSON field would
    /// from the equivalent JSON: nested objects in arrays, every scalar type,
    /// dotted paths kept for the field to expand.
    #[test]
    fn document_carries_attributes_of_every_json_type() {
        let line = r#"{"time":"2024-03-01T23:59:59Z","level":"error","msg":"refused","service":"sshd","http":{"status":500,"ok":false},"tags":["a",{"k":-1.5}],"user":null}"#;
        let mut normalizer =
            Normalizer::new(Arc::new(CompiledSchema::new(Schema::builtin())), NormalizerConfig::default());
        let record = normalizer.normalize_owned(line.as_bytes(), Timestamp::from_nanos(0)).unwrap();
        let fields = IndexFields::new(&Schema::builtin());
        let doc = fields.document(&record, 7, 3);
        let json: serde_json::Value = serde_json::from_str(&doc.to_json(&fields.schema)).unwrap();
        assert_eq!(
            json["attributes"],
            serde_json::json!([{"http.status": 500, "http.ok": false, "tags": ["a", {"k": -1.5}], "user": null}])
        );
        assert_eq!(json["message"], serde_json::json!(["refused"]));
        assert_eq!(json["batch"], serde_json::json!([7]));
        assert_eq!(json["row"], serde_json::json!([3]));
    }
}
