//! Every producer the normalizer recognises, on lines in that producer's
//! real format (`fixtures/producers/`, provenance in `fixtures/README.md`):
//! exact timestamp to the nanosecond, level, severity number, message,
//! service, host and trace context.

use std::path::PathBuf;

use sluice_schemas::{Normalizer, Producer, Record, Timestamp, Value};

/// The observed time used for every line, so a missing timestamp is visible.
const OBSERVED: Timestamp = Timestamp::from_nanos(1_000_000_000_000_000_000);

struct Expected {
    producer: Producer,
    timestamp: &'static str,
    level: Option<(&'static str, u8)>,
    message: Option<&'static str>,
    service: Option<&'static str>,
    host: Option<&'static str>,
    trace_id: Option<&'static str>,
    span_id: Option<&'static str>,
}

const NONE: Expected = Expected {
    producer: Producer::Generic,
    timestamp: "",
    level: None,
    message: None,
    service: None,
    host: None,
    trace_id: None,
    span_id: None,
};

fn fixture_lines(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/producers").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::to_owned).collect()
}

/// Normalizes each line of a fixture and compares it with its expectation;
/// returns the records for further checks.
fn check(name: &str, expected: &[Expected]) -> Vec<Record<'static>> {
    let lines = fixture_lines(name);
    assert_eq!(lines.len(), expected.len(), "{name}: one expectation per line");
    let mut normalizer = Normalizer::with_default_schema();
    lines
        .iter()
        .zip(expected)
        .enumerate()
        .map(|(i, (line, want))| {
            let at = format!("{name}:{}", i + 1);
            let record = normalizer.normalize_owned(line.as_bytes(), OBSERVED).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(record.producer, want.producer, "{at}: producer");
            assert_eq!(record.timestamp.to_string(), want.timestamp, "{at}: timestamp");
            let level = record.level.map(|l| (l.as_str(), record.severity_number.map_or(0, |n| n.get())));
            assert_eq!(level, want.level, "{at}: level");
            assert_eq!(record.message.as_deref(), want.message, "{at}: message");
            assert_eq!(record.service.as_deref(), want.service, "{at}: service");
            assert_eq!(record.host.as_deref(), want.host, "{at}: host");
            assert_eq!(record.trace_id.as_deref(), want.trace_id, "{at}: trace_id");
            assert_eq!(record.span_id.as_deref(), want.span_id, "{at}: span_id");
            assert!(record.notes.is_empty(), "{at}: unexpected notes {:?}", record.notes);
            record
        })
        .collect()
}

fn string(value: &'static str) -> Value<'static> {
    Value::String(value.into())
}

#[test]
fn ecs() {
    let records = check(
        "ecs.ndjson",
        &[
            Expected {
                producer: Producer::Ecs,
                timestamp: "2019-08-06T12:09:12.375000000Z",
                level: Some(("info", 9)),
                message: Some("Tomcat started on port(s): 8080 (http) with context path ''"),
                service: Some("spring-petclinic"),
                ..NONE
            },
            Expected {
                producer: Producer::Ecs,
                timestamp: "2023-05-17T08:45:12.123456000Z",
                level: Some(("error", 17)),
                message: Some("payment declined"),
                service: Some("checkout"),
                host: Some("web-07"),
                trace_id: Some("0af7651916cd43dd8448eb211c80319c"),
                span_id: Some("b7ad6b7169203331"),
            },
        ],
    );
    // Nested objects become dotted paths; the losing host name is kept.
    assert_eq!(records[1].attribute("http.response.status_code"), Some(&Value::I64(402)));
    assert_eq!(records[1].attribute("host.name"), Some(&string("web-07.prod")));
    assert_eq!(records[1].attribute("service.version"), Some(&string("1.4.2")));
    assert_eq!(
        records[0].attribute("log.logger"),
        Some(&string("org.springframework.boot.web.embedded.tomcat.TomcatWebServer"))
    );
}

#[test]
fn opentelemetry_data_model_and_otlp_json() {
    let records = check(
        "opentelemetry.ndjson",
        &[
            Expected {
                producer: Producer::OpenTelemetry,
                timestamp: "2020-04-15T14:23:06.000000000Z",
                level: Some(("info", 9)),
                message: Some("20200415T072306-0700 INFO I like donuts"),
                service: Some("donut_shop"),
                trace_id: Some("f4dbb3edd765f620"),
                span_id: Some("43222c2d51a7abe3"),
                ..NONE
            },
            Expected {
                producer: Producer::OpenTelemetry,
                timestamp: "2018-12-13T14:51:00.300000000Z",
                level: Some(("info", 10)),
                message: Some("Example log record"),
                trace_id: Some("5b8efff798038103d269b633813fc60c"),
                span_id: Some("eee19b7ec3c1b174"),
                ..NONE
            },
        ],
    );
    // `Attributes` members sit at the top level, `Resource` under `resource.`.
    assert_eq!(records[0].attribute("http.status_code"), Some(&Value::I64(500)));
    assert_eq!(records[0].attribute("resource.service.version"), Some(&string("2.0.0")));
    // OTLP/JSON AnyValues are unwrapped, intValue strings become integers.
    let otlp = &records[1];
    assert_eq!(otlp.attribute("string.attribute"), Some(&string("some string")));
    assert_eq!(otlp.attribute("boolean.attribute"), Some(&Value::Bool(true)));
    assert_eq!(otlp.attribute("int.attribute"), Some(&Value::I64(10)));
    assert_eq!(otlp.attribute("double.attribute"), Some(&Value::F64(637.704)));
    assert_eq!(otlp.attribute("array.attribute"), Some(&Value::Array(vec![string("many"), string("values")])));
    assert_eq!(
        otlp.attribute("map.attribute"),
        Some(&Value::Object(vec![("some.map.key".into(), string("some value"))]))
    );
}

#[test]
fn bunyan() {
    let records = check(
        "bunyan.ndjson",
        &[
            Expected {
                producer: Producer::Bunyan,
                timestamp: "2013-01-04T18:46:23.851000000Z",
                level: Some(("info", 9)),
                message: Some("hi"),
                service: Some("myapp"),
                host: Some("banana.local"),
                ..NONE
            },
            Expected {
                producer: Producer::Bunyan,
                timestamp: "2013-01-04T18:46:23.853000000Z",
                level: Some(("warn", 13)),
                message: Some("au revoir"),
                service: Some("myapp"),
                host: Some("banana.local"),
                ..NONE
            },
            Expected {
                producer: Producer::Bunyan,
                timestamp: "2012-02-03T19:02:46.178000000Z",
                level: Some(("error", 17)),
                message: Some("request failed"),
                service: Some("myserver"),
                host: Some("banana.local"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[0].attribute("pid"), Some(&Value::I64(40161)));
    assert_eq!(records[2].attribute("req.headers.x-hi"), Some(&string("Mom")));
    assert_eq!(records[2].attribute("err.name"), Some(&string("TypeError")));
}

#[test]
fn pino() {
    let records = check(
        "pino.ndjson",
        &[
            Expected {
                producer: Producer::Pino,
                timestamp: "2018-07-09T21:17:54.631000000Z",
                level: Some(("info", 9)),
                message: Some("hello world"),
                host: Some("Davids-MBP-3.fritz.box"),
                ..NONE
            },
            Expected {
                producer: Producer::Pino,
                timestamp: "2018-07-09T21:18:02.399000000Z",
                level: Some(("error", 17)),
                message: Some("this is at error level"),
                service: Some("api"),
                host: Some("Davids-MBP-3.fritz.box"),
                ..NONE
            },
            Expected {
                producer: Producer::Pino,
                timestamp: "2018-07-09T21:18:02.400000000Z",
                level: Some(("debug", 5)),
                message: Some("nested"),
                host: Some("Davids-MBP-3.fritz.box"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[2].attribute("a.b.c"), Some(&Value::I64(1)));
}

#[test]
fn zap_production_and_development() {
    let records = check(
        "zap.ndjson",
        &[
            Expected {
                producer: Producer::ZapProduction,
                timestamp: "2009-11-10T23:00:00.123456000Z",
                level: Some(("info", 9)),
                message: Some("Failed to fetch URL."),
                ..NONE
            },
            Expected {
                producer: Producer::ZapProduction,
                timestamp: "2023-11-14T22:13:20.500000000Z",
                level: Some(("error", 18)),
                message: Some("invariant violated"),
                ..NONE
            },
            Expected {
                producer: Producer::ZapDevelopment,
                timestamp: "2024-05-01T08:20:30.123000000Z",
                level: Some(("info", 9)),
                message: Some("starting server"),
                ..NONE
            },
            Expected {
                producer: Producer::ZapDevelopment,
                timestamp: "2024-05-01T08:20:31.000000000Z",
                level: Some(("warn", 13)),
                message: Some("slow request"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[0].attribute("attempt"), Some(&Value::I64(3)));
    assert_eq!(records[1].attribute("logger"), Some(&string("payments.worker")));
    assert_eq!(records[2].attribute("N"), Some(&string("main")));
}

#[test]
fn logrus() {
    check(
        "logrus.ndjson",
        &[
            Expected {
                producer: Producer::Logrus,
                timestamp: "2014-03-10T23:57:38.562264131Z",
                level: Some(("info", 9)),
                message: Some("A group of walrus emerges from the ocean"),
                ..NONE
            },
            Expected {
                producer: Producer::Logrus,
                timestamp: "2014-03-10T23:57:38.000000000Z",
                level: Some(("warn", 13)),
                message: Some("The group's number increased tremendously!"),
                ..NONE
            },
            // logrus's panic is above its fatal.
            Expected {
                producer: Producer::Logrus,
                timestamp: "2014-03-10T19:57:38.562000000Z",
                level: Some(("fatal", 24)),
                message: Some("It's over 9000!"),
                ..NONE
            },
        ],
    );
}

#[test]
fn log4j2_json_layout_and_json_template_layout() {
    let records = check(
        "log4j2.ndjson",
        &[
            Expected {
                producer: Producer::Log4j2,
                timestamp: "2017-04-25T12:01:04.118000000Z",
                level: Some(("info", 9)),
                message: Some("Hello, world!"),
                ..NONE
            },
            Expected {
                producer: Producer::Log4j2,
                timestamp: "2017-04-25T12:01:04.118000000Z",
                level: Some(("error", 17)),
                message: Some("PacketResponder 1 for block blk_38865049064139660 terminating"),
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                span_id: Some("00f067aa0ba902b7"),
                ..NONE
            },
            // JsonTemplateLayout's default EcsLayout.json template.
            Expected {
                producer: Producer::Ecs,
                timestamp: "2020-02-07T11:38:47.098000000Z",
                level: Some(("warn", 13)),
                message: Some("Registered signal handlers for [TERM, HUP, INT]"),
                ..NONE
            },
            // LogstashJsonEventLayoutV1.json.
            Expected {
                producer: Producer::Logstash,
                timestamp: "2017-06-09T18:10:40.123000000Z",
                level: Some(("debug", 5)),
                message: Some("Registered signal handlers for [TERM, HUP, INT]"),
                host: Some("spark-worker-3"),
                ..NONE
            },
            // GelfLayout.json: epoch seconds and a syslog severity.
            Expected {
                producer: Producer::Gelf,
                timestamp: "2008-11-09T20:37:20.123000000Z",
                level: Some(("error", 17)),
                message: Some(
                    "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010",
                ),
                host: Some("hdfs-dn-12"),
                ..NONE
            },
        ],
    );
    // contextMap (MDC) entries become top-level attributes.
    assert_eq!(records[0].attribute("foo"), Some(&string("FOO")));
    assert_eq!(records[0].attribute("thrown.name"), Some(&string("java.lang.RuntimeException")));
    assert_eq!(records[0].attribute("threadId"), Some(&Value::I64(1)));
    assert_eq!(records[4].attribute("full_message"), Some(&Value::Null));
}

#[test]
fn journald() {
    let records = check(
        "journald.ndjson",
        &[
            Expected {
                producer: Producer::Journald,
                timestamp: "2020-12-04T14:53:19.999876000Z",
                level: Some(("info", 9)),
                message: Some("Started Session 42 of user root."),
                service: Some("systemd"),
                host: Some("web-01"),
                ..NONE
            },
            Expected {
                producer: Producer::Journald,
                timestamp: "2020-12-04T14:53:21.234567000Z",
                level: Some(("error", 17)),
                message: Some(
                    "reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
                ),
                service: Some("sshd"),
                host: Some("web-01"),
                ..NONE
            },
            // Syslog crit, _COMM as the service, and a MESSAGE that journald
            // wrote as a byte array (not UTF-8): kept as it is in attributes.
            Expected {
                producer: Producer::Journald,
                timestamp: "2020-12-04T14:53:22.000000000Z",
                level: Some(("error", 18)),
                service: Some("kernel-watchdog"),
                host: Some("web-01"),
                ..NONE
            },
        ],
    );
    // The realtime timestamp lost to the source timestamp and stays an attribute.
    assert_eq!(records[0].attribute("__REALTIME_TIMESTAMP"), Some(&string("1607093600000000")));
    assert_eq!(
        records[2].attribute("MESSAGE"),
        Some(&Value::Array(vec![Value::I64(72), Value::I64(105), Value::I64(255), Value::I64(10)]))
    );
}

#[test]
fn google_cloud_structured_logging() {
    let records = check(
        "gcp.ndjson",
        &[
            Expected {
                producer: Producer::Gcp,
                timestamp: "2020-10-12T07:20:50.520000000Z",
                level: Some(("error", 17)),
                message: Some("There was an error in the application."),
                trace_id: Some("06796866738c859f2f19b7cfb3214824"),
                span_id: Some("000000000000004a"),
                ..NONE
            },
            // GCP's CRITICAL sits below ALERT and EMERGENCY (syslog order).
            Expected {
                producer: Producer::Gcp,
                timestamp: "2020-10-12T07:20:50.520000123Z",
                level: Some(("error", 18)),
                message: Some("database connection pool exhausted"),
                service: Some("orders"),
                ..NONE
            },
            Expected {
                producer: Producer::Gcp,
                timestamp: "2020-10-12T07:20:50.000000005Z",
                level: Some(("info", 10)),
                message: Some("config reloaded"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[0].attribute("logging.googleapis.com/labels.user_label_1"), Some(&string("value_1")));
    assert_eq!(records[0].attribute("httpRequest.requestMethod"), Some(&string("GET")));
}

#[test]
fn python_json_logger_and_structlog() {
    let records = check(
        "python.ndjson",
        &[
            // Python's CRITICAL is its highest level; asctime has no offset: UTC.
            Expected {
                producer: Producer::PythonJsonLogger,
                timestamp: "2024-03-05T14:22:01.123000000Z",
                level: Some(("fatal", 21)),
                message: Some("card processor unreachable"),
                ..NONE
            },
            // `created` (exact epoch) wins over `asctime` (local, millisecond).
            Expected {
                producer: Producer::PythonJsonLogger,
                timestamp: "2024-03-05T14:22:02.004311000Z",
                level: Some(("warn", 13)),
                message: Some("retrying charge"),
                service: Some("billing"),
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                span_id: Some("00f067aa0ba902b7"),
                ..NONE
            },
            Expected {
                producer: Producer::Structlog,
                timestamp: "2024-03-05T14:22:01.123456000Z",
                level: Some(("info", 9)),
                message: Some("user logged in"),
                ..NONE
            },
            Expected {
                producer: Producer::Structlog,
                timestamp: "2024-03-05T14:22:01.500000000Z",
                level: Some(("fatal", 21)),
                message: Some("token refresh failed"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[0].attribute("name"), Some(&string("payments")));
    assert_eq!(records[1].attribute("asctime"), Some(&string("2024-03-05 14:22:02,004")));
    assert_eq!(records[2].attribute("user"), Some(&string("alice")));
}

#[test]
fn docker_json_file() {
    let records = check(
        "docker.ndjson",
        &[
            Expected {
                producer: Producer::Docker,
                timestamp: "2019-01-01T11:11:11.111111111Z",
                message: Some("Log line is here"),
                ..NONE
            },
            Expected {
                producer: Producer::Docker,
                timestamp: "2019-01-01T11:11:12.000000001Z",
                message: Some("panic: runtime error: index out of range [3] with length 3"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[1].attribute("stream"), Some(&string("stderr")));
    assert_eq!(records[1].attribute("attrs.tag"), Some(&string("api")));
}

#[test]
fn zeek() {
    let records = check(
        "zeek.ndjson",
        &[
            Expected {
                producer: Producer::Zeek,
                timestamp: "2018-03-24T17:15:20.629574000Z",
                message: Some("SSL certificate validation failed with (unable to get local issuer certificate)"),
                service: Some("zeek"),
                ..NONE
            },
            Expected {
                producer: Producer::Zeek,
                timestamp: "2018-03-24T17:16:39.739898000Z",
                service: Some("zeek"),
                ..NONE
            },
            Expected {
                producer: Producer::Zeek,
                timestamp: "2018-03-24T17:15:20.865716000Z",
                service: Some("zeek"),
                ..NONE
            },
            // Zeek's default JSON writes ts as epoch seconds.
            Expected {
                producer: Producer::Zeek,
                timestamp: "2018-03-24T17:15:20.865716000Z",
                service: Some("zeek"),
                ..NONE
            },
        ],
    );
    assert_eq!(records[0].attribute("id.orig_h"), Some(&string("10.164.94.120")));
    assert_eq!(records[2].attribute("TTLs"), Some(&Value::Array(vec![Value::F64(2230.0), Value::F64(41830.0)])));
    // Zeek's `service` is a protocol and `host` an HTTP header: attributes, not canonical.
    assert_eq!(records[3].attribute("service"), Some(&string("dns")));
    assert_eq!(records[3].attribute("host"), Some(&string("ignored-as-host.example")));
}

#[test]
fn one_stream_may_mix_producers_line_by_line() {
    let mut normalizer = Normalizer::with_default_schema();
    let mut seen = Vec::new();
    for name in ["journald.ndjson", "pino.ndjson", "ecs.ndjson", "zeek.ndjson", "logrus.ndjson", "journald.ndjson"] {
        for line in fixture_lines(name) {
            let record = normalizer.normalize_owned(line.as_bytes(), OBSERVED).unwrap();
            seen.push(record.producer);
        }
    }
    seen.dedup();
    assert_eq!(
        seen,
        [Producer::Journald, Producer::Pino, Producer::Ecs, Producer::Zeek, Producer::Logrus, Producer::Journald]
    );
}
