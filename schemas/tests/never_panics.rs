//! Seeded property tests: no input makes the parser or normalizer panic,
//! and every input ends as exactly one record or one rejection.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sluice_schemas::{CompiledSchema, Normalizer, NormalizerConfig, Schema, Timestamp};

const OBSERVED: Timestamp = Timestamp::from_nanos(1_700_000_000_000_000_000);

/// A fixed seed keeps CI deterministic; change it locally to explore.
fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
}

/// A schema that exercises declared fields, coercion, required and deprecated paths.
fn normalizers() -> Vec<Normalizer> {
    let schema = Schema::from_toml(
        Path::new("fuzz.toml"),
        r#"
mode = "strict"
time_zone = "Europe/Berlin"
[[field]]
name = "status"
type = "u64"
required = true
[[field]]
name = "ip"
type = "ip"
[[field]]
name = "at"
type = "timestamp"
[[field]]
name = "old"
type = "string"
deprecated = { replacement = "status", sunset = "2030-01-01" }
"#,
    )
    .unwrap();
    vec![
        Normalizer::with_default_schema(),
        Normalizer::new(
            Arc::new(CompiledSchema::new(schema)),
            NormalizerConfig { default_service: Some("svc".into()) },
        ),
    ]
}

/// Keys that steer detection and bindings into every producer and role.
const KEYS: &[&str] = &[
    "time",
    "ts",
    "@timestamp",
    "timestamp",
    "level",
    "msg",
    "message",
    "log",
    "stream",
    "v",
    "pid",
    "hostname",
    "name",
    "L",
    "M",
    "T",
    "instant",
    "timeMillis",
    "contextMap",
    "severity",
    "timestampSeconds",
    "timestampNanos",
    "logging.googleapis.com/trace",
    "__REALTIME_TIMESTAMP",
    "PRIORITY",
    "MESSAGE",
    "_path",
    "Body",
    "Resource",
    "Attributes",
    "attributes",
    "body",
    "SeverityNumber",
    "severityNumber",
    "trace_id",
    "span_id",
    "log.level",
    "ecs.version",
    "event",
    "asctime",
    "levelname",
    "created",
    "status",
    "ip",
    "at",
    "old",
    "seconds",
    "nanos",
    "epochSecond",
    "nanoOfSecond",
    "stringValue",
    "key",
    "value",
    "intValue",
    "kvlistValue",
    "arrayValue",
    "values",
];

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
        prop::sample::select(vec![
            "2024-01-02T03:04:05.123Z",
            "1700000000",
            "1700000000.5",
            "2024-13-45",
            "+0100",
            "ERROR",
            "crit",
            "6",
            "50",
            "projects/p/traces/0AF7651916CD43DD8448EB211C80319C",
            "9999-99-99T99:99:99Z",
            "",
            "-",
            "1e400",
        ])
        .prop_map(|s| serde_json::Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|entries| {
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

#[test]
fn arbitrary_bytes_never_panic() {
    let normalizers = RefCell::new(normalizers());
    runner(2_000)
        .run(&prop::collection::vec(any::<u8>(), 0..300), |bytes| {
            for n in normalizers.borrow_mut().iter_mut() {
                let _ = n.normalize_owned(&bytes, OBSERVED);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_json_never_panics() {
    let normalizers = RefCell::new(normalizers());
    let strategy = (arbitrary_json(), any::<prop::sample::Index>(), any::<u8>());
    runner(2_000)
        .run(&strategy, |(json, index, byte)| {
            let mut bytes = serde_json::to_vec(&json).unwrap();
            if !bytes.is_empty() {
                let i = index.index(bytes.len());
                bytes[i] = byte;
            }
            for n in normalizers.borrow_mut().iter_mut() {
                let _ = n.normalize_owned(&bytes, OBSERVED);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_json_objects_become_records_or_principled_rejections() {
    let normalizers = RefCell::new(normalizers());
    let objects = prop::collection::vec((prop::sample::select(KEYS), arbitrary_json()), 0..10)
        .prop_map(|entries| serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    runner(3_000)
        .run(&objects, |json| {
            let bytes = serde_json::to_vec(&json).unwrap();
            // The default schema is lenient: every JSON object is accepted.
            let record = normalizers.borrow_mut()[0].normalize_owned(&bytes, OBSERVED);
            prop_assert!(record.is_ok(), "{json}: {:?}", record.err());
            let record = record.unwrap();
            // Output is valid JSON again.
            let mut out = Vec::new();
            record.write_ndjson(&mut out);
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
            // The strict schema may only reject for a missing required field.
            let strict = normalizers.borrow_mut()[1].normalize_owned(&bytes, OBSERVED);
            if let Err(rejection) = strict {
                prop_assert_eq!(rejection.reason.as_str(), "missing_required_field");
            }
            Ok(())
        })
        .unwrap();
}
