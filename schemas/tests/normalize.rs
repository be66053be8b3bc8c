//! The normalizer's contract beyond producer formats: notes instead of
//! drops, rejection reasons, schema-declared fields, `required` and
//! `deprecated`, and which name wins when several feed one field.

use std::path::Path;
use std::sync::Arc;

use sluice_schemas::{
    CompiledSchema, Normalizer, NormalizerConfig, Record, RejectReason, Schema, Timestamp, TypedValue, Value,
};

const OBSERVED: Timestamp = Timestamp::from_nanos(1_700_000_000_000_000_000);

fn normalizer(schema_toml: &str) -> Normalizer {
    let schema = Schema::from_toml(Path::new("test.toml"), schema_toml).unwrap();
    Normalizer::new(Arc::new(CompiledSchema::new(schema)), NormalizerConfig::default())
}

fn normalize(normalizer: &mut Normalizer, line: &str) -> Record<'static> {
    normalizer.normalize_owned(line.as_bytes(), OBSERVED).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn notes(record: &Record<'_>) -> Vec<(String, String, String)> {
    record.notes.iter().map(|n| (n.code.to_string(), n.field.clone(), n.detail.clone())).collect()
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn missing_timestamp_uses_observed_time_with_a_note() {
    let mut n = Normalizer::with_default_schema();
    let record = normalize(&mut n, r#"{"msg":"no time here","level":"info"}"#);
    assert_eq!(record.timestamp, OBSERVED);
    assert_eq!(record.observed_timestamp, OBSERVED);
    assert_eq!(
        notes(&record),
        owned(&[("timestamp_missing", "", "no timestamp field found; using the observed time")])
    );
}

#[test]
fn unparseable_timestamp_is_kept_and_noted() {
    let mut n = Normalizer::with_default_schema();
    let record = normalize(&mut n, r#"{"time":"yesterday at noon","level":"warn","msg":"x"}"#);
    assert_eq!(record.timestamp, OBSERVED);
    assert_eq!(record.attribute("time"), Some(&Value::String("yesterday at noon".into())));
    assert_eq!(
        notes(&record),
        owned(&[(
            "timestamp_unparseable",
            "time",
            "expected RFC 3339 / ISO 8601 (2024-01-02T03:04:05.123Z) or epoch digits, found \"yesterday at noon\"; using the observed time"
        )])
    );
}

#[test]
fn unknown_level_is_kept_and_noted() {
    let mut n = Normalizer::with_default_schema();
    // loghub's Linux logs carry "combo", which is not a level at all.
    let record = normalize(&mut n, r#"{"timestamp":"2024-01-01T00:00:00Z","level":"combo","message":"x"}"#);
    assert_eq!(record.level, None);
    assert_eq!(record.severity_number, None);
    assert_eq!(record.attribute("level"), Some(&Value::String("combo".into())));
    assert_eq!(
        notes(&record),
        owned(&[("level_unrecognized", "level", "\"combo\" is not a known level; see the level table in the docs")])
    );
}

#[test]
fn invalid_trace_context_is_kept_and_noted() {
    let mut n = Normalizer::with_default_schema();
    let record = normalize(
        &mut n,
        r#"{"timestamp":"2024-01-01T00:00:00Z","trace_id":"not-hex","span_id":"0000000000000000","message":"x"}"#,
    );
    assert_eq!(record.trace_id, None);
    assert_eq!(record.span_id, None);
    assert_eq!(record.attribute("trace_id"), Some(&Value::String("not-hex".into())));
    assert_eq!(record.attribute("span_id"), Some(&Value::String("0000000000000000".into())));
    assert_eq!(
        notes(&record),
        owned(&[
            (
                "trace_context_invalid",
                "trace_id",
                "expected a trace id of 32 or 16 hexadecimal digits, found \"not-hex\""
            ),
            (
                "trace_context_invalid",
                "span_id",
                "expected a span id of 16 hexadecimal digits, found \"0000000000000000\""
            ),
        ])
    );
}

#[test]
fn rejections_have_fixed_reasons() {
    let mut n = Normalizer::with_default_schema();
    let mut reject = |bytes: &[u8]| n.normalize_owned(bytes, OBSERVED).unwrap_err();
    assert_eq!(reject(b"{\"a\":").reason, RejectReason::InvalidJson);
    assert_eq!(reject(b"not json").reason, RejectReason::InvalidJson);
    assert_eq!(reject(b"").reason, RejectReason::InvalidJson);
    assert_eq!(reject(b"{\"a\":\"\xff\xfe\"}").reason, RejectReason::InvalidUtf8);
    let array = reject(b"[1,2]");
    assert_eq!(array.reason, RejectReason::NotAnObject);
    assert_eq!(array.to_string(), "not_an_object: expected a JSON object, found an array");
    assert_eq!(reject(b"\"text\"").to_string(), "not_an_object: expected a JSON object, found a string");
    assert_eq!(reject(b"42").to_string(), "not_an_object: expected a JSON object, found a number");
    // The normalizer stays usable after errors.
    let record = n.normalize_owned(br#"{"message":"fine"}"#, OBSERVED).unwrap();
    assert_eq!(record.message.as_deref(), Some("fine"));
}

const TEAM_SCHEMA: &str = r#"
name = "payments"

[[field]]
name = "http.status"
type = "u64"
aliases = ["status", "status_code"]

[[field]]
name = "latency_ms"
type = "f64"

[[field]]
name = "client.ip"
type = "ip"
aliases = ["remote_addr"]

[[field]]
name = "user.id"
type = "string"
required = true

[[field]]
name = "userId"
type = "string"
deprecated = { replacement = "user.id", sunset = "2027-03-01" }

[[field]]
name = "service"
aliases = ["svc"]
"#;

#[test]
fn declared_fields_are_typed_and_coerced_losslessly() {
    let mut n = normalizer(TEAM_SCHEMA);
    let record = normalize(
        &mut n,
        r#"{"ts":"2024-01-01T00:00:00Z","msg":"paid","status":"200","latency_ms":12,"remote_addr":"10.1.2.3","user":{"id":42}}"#,
    );
    assert_eq!(record.field("http.status"), Some(&TypedValue::U64(200)));
    assert_eq!(record.field("latency_ms"), Some(&TypedValue::F64(12.0)));
    assert_eq!(record.field("client.ip"), Some(&TypedValue::Ip("10.1.2.3".parse().unwrap())));
    assert_eq!(record.field("user.id"), Some(&TypedValue::String("42".into())));
    assert!(record.notes.is_empty(), "{:?}", record.notes);
    assert!(record.attribute("status").is_none());
}

#[test]
fn wrong_typed_value_stays_in_attributes_with_a_note() {
    let mut n = normalizer(TEAM_SCHEMA);
    let record = normalize(
        &mut n,
        r#"{"msg":"x","ts":"2024-01-01T00:00:00Z","http":{"status":"OK"},"latency_ms":"fast","user.id":"u1"}"#,
    );
    assert_eq!(record.field("http.status"), None);
    assert_eq!(record.attribute("http.status"), Some(&Value::String("OK".into())));
    assert_eq!(record.attribute("latency_ms"), Some(&Value::String("fast".into())));
    assert_eq!(
        notes(&record),
        owned(&[
            (
                "type_mismatch",
                "http.status",
                "declared as `http.status` of type u64, found string \"OK\"; kept in attributes"
            ),
            (
                "type_mismatch",
                "latency_ms",
                "declared as `latency_ms` of type f64, found string \"fast\"; kept in attributes"
            ),
        ])
    );
}

#[test]
fn required_field_lenient_notes_strict_rejects() {
    let mut lenient = normalizer(TEAM_SCHEMA);
    let record = normalize(&mut lenient, r#"{"ts":"2024-01-01T00:00:00Z","msg":"anonymous"}"#);
    assert_eq!(notes(&record), owned(&[("required_field_missing", "user.id", "required field `user.id` is missing")]));

    let mut strict = normalizer(&format!("mode = \"strict\"\n{TEAM_SCHEMA}"));
    let rejection =
        strict.normalize_owned(br#"{"ts":"2024-01-01T00:00:00Z","msg":"anonymous"}"#, OBSERVED).unwrap_err();
    assert_eq!(rejection.reason, RejectReason::MissingRequiredField);
    assert_eq!(
        rejection.to_string(),
        "missing_required_field: required field `user.id` is missing (schema `payments` is strict)"
    );
}

#[test]
fn deprecated_names_map_to_the_replacement_and_are_counted_per_service() {
    let mut n = normalizer(TEAM_SCHEMA);
    let old = normalize(&mut n, r#"{"ts":"2024-01-01T00:00:00Z","msg":"x","svc":"cart","userId":"u7"}"#);
    assert_eq!(old.field("user.id"), Some(&TypedValue::String("u7".into())));
    assert_eq!(old.service.as_deref(), Some("cart"));
    assert_eq!(
        notes(&old),
        owned(&[("deprecated_field", "userId", "`userId` is deprecated: send `user.id` instead (sunset 2027-03-01)")])
    );
    // Sending both: the new name wins, the old value is kept as an attribute.
    let both =
        normalize(&mut n, r#"{"ts":"2024-01-01T00:00:00Z","msg":"x","svc":"cart","userId":"old","user.id":"new"}"#);
    assert_eq!(both.field("user.id"), Some(&TypedValue::String("new".into())));
    assert_eq!(both.attribute("userId"), Some(&Value::String("old".into())));
    normalize(&mut n, r#"{"ts":"2024-01-01T00:00:00Z","msg":"x","svc":"search","userId":"u9"}"#);
    normalize(&mut n, r#"{"ts":"2024-01-01T00:00:00Z","msg":"x","user.id":"u9"}"#);
    let usage: Vec<(&str, &str, u64)> = n.deprecated_usage().iter().collect();
    assert_eq!(usage, [("userId", "cart", 2), ("userId", "search", 1)]);
}

#[test]
fn user_aliases_outrank_producer_profiles() {
    // bunyan's `name` is the service, unless the team says `svc` is.
    let mut n = normalizer(TEAM_SCHEMA);
    let record = normalize(
        &mut n,
        r#"{"name":"myapp","svc":"billing","hostname":"h","pid":1,"level":30,"msg":"hi","time":"2013-01-04T18:46:23.851Z","v":0,"user.id":"u"}"#,
    );
    assert_eq!(record.service.as_deref(), Some("billing"));
    assert_eq!(record.attribute("name"), Some(&Value::String("myapp".into())));
}

#[test]
fn default_service_fills_in_only_when_absent() {
    let compiled = Arc::new(CompiledSchema::new(Schema::builtin()));
    let config = NormalizerConfig { default_service: Some("from-flag".into()) };
    let mut n = Normalizer::new(compiled, config);
    assert_eq!(normalize(&mut n, r#"{"message":"a"}"#).service.as_deref(), Some("from-flag"));
    assert_eq!(normalize(&mut n, r#"{"message":"a","service":"own"}"#).service.as_deref(), Some("own"));
}

#[test]
fn schema_time_zone_applies_to_offsetless_timestamps() {
    let mut n = normalizer("time_zone = \"America/New_York\"\n");
    let record = normalize(&mut n, r#"{"asctime":"2024-07-01 09:00:00,250","levelname":"INFO","message":"x"}"#);
    assert_eq!(record.timestamp.to_string(), "2024-07-01T13:00:00.250000000Z");
    let explicit = normalize(&mut n, r#"{"time":"2024-07-01T09:00:00Z","msg":"x"}"#);
    assert_eq!(explicit.timestamp.to_string(), "2024-07-01T09:00:00.000000000Z");
}

#[test]
fn flat_dotted_and_nested_keys_are_the_same_field() {
    let mut n = Normalizer::with_default_schema();
    let flat = normalize(
        &mut n,
        r#"{"@timestamp":"2024-01-01T00:00:00Z","log.level":"warn","service.name":"api","message":"m","ecs.version":"8"}"#,
    );
    let nested = normalize(
        &mut n,
        r#"{"@timestamp":"2024-01-01T00:00:00Z","log":{"level":"warn"},"service":{"name":"api"},"message":"m","ecs":{"version":"8"}}"#,
    );
    for record in [&flat, &nested] {
        assert_eq!(record.level.map(|l| l.as_str()), Some("warn"));
        assert_eq!(record.service.as_deref(), Some("api"));
        assert_eq!(record.attribute("ecs.version"), Some(&Value::String("8".into())));
    }
}

#[test]
fn ndjson_output_carries_the_canonical_fields() {
    let mut n = Normalizer::with_default_schema();
    let record = normalize(
        &mut n,
        r#"{"level":30,"time":1531171074631,"msg":"hello \"world\"","pid":657,"hostname":"box","name":"api","tags":["a",1]}"#,
    );
    let mut out = Vec::new();
    record.write_ndjson(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        concat!(
            r#"{"timestamp":"2018-07-09T21:17:54.631000000Z","observed_timestamp":"2023-11-14T22:13:20.000000000Z","#,
            r#""level":"info","severity_number":9,"message":"hello \"world\"","service":"api","host":"box","#,
            r#""attributes":{"pid":657,"tags":["a",1]},"producer":"pino"}"#,
            "\n"
        )
    );
}

#[test]
fn attributes_and_notes_as_json_for_storage() {
    let mut n = Normalizer::with_default_schema();
    let record = normalize(&mut n, r#"{"msg":"m","a":{"b":1},"tags":["x"],"level":"combo"}"#);
    let mut attributes = Vec::new();
    record.write_attributes_json(&mut attributes);
    assert_eq!(String::from_utf8(attributes).unwrap(), r#"{"a.b":1,"tags":["x"],"level":"combo"}"#);
    let mut notes = Vec::new();
    record.write_notes_json(&mut notes);
    let notes: serde_json::Value = serde_json::from_slice(&notes).unwrap();
    assert_eq!(notes[0]["code"], "timestamp_missing");
    assert_eq!(notes[1]["code"], "level_unrecognized");
}

#[test]
fn a_forced_producer_and_default_service_apply_to_the_lines_after_them() {
    use sluice_schemas::{Level, Producer};
    let mut n = Normalizer::with_default_schema();
    let line = r#"{"time":1700000000123,"level":50,"msg":"disk full"}"#;
    let detected = normalize(&mut n, line);
    assert_ne!(detected.producer, Producer::Pino);

    n.set_producer(Producer::from_name("pino"));
    n.set_default_service(Some("checkout"));
    let forced = normalize(&mut n, line);
    assert_eq!(forced.producer, Producer::Pino);
    assert_eq!(forced.level, Some(Level::Error));
    assert_eq!(forced.timestamp, Timestamp::from_nanos(1_700_000_000_123_000_000));
    assert_eq!(forced.service.as_deref(), Some("checkout"));

    n.set_producer(None);
    n.set_default_service(None);
    let again = normalize(&mut n, line);
    assert_eq!(again.producer, detected.producer);
    assert_eq!(again.service, None);
    assert_eq!(Producer::from_name("no-such-logger"), None);
    assert!(Producer::ALL.iter().all(|p| Producer::from_name(p.as_str()) == Some(*p)));
}
