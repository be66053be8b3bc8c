//! Producers: which logger wrote a line, and where that logger puts the
//! canonical fields.
//!
//! Detection looks at a line's top-level keys once. Each key that is a
//! marker of some producer (`ecs.version`, `__REALTIME_TIMESTAMP`, `v`, …)
//! sets a bit, and a fixed list of rules over the bits picks the producer.
//! That costs one `match` per key, whatever the number of producers: no
//! preset is tried and discarded. Each producer then has a [`Profile`], the
//! paths where it writes time, level, message, service, host and trace
//! context, written from the logger's own documentation or source.

use crate::level::LevelConvention;
use crate::timestamp::EpochUnit;

/// A logger whose JSON Sluice recognises without configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Producer {
    /// No producer recognised: the schema's generic aliases apply.
    Generic,
    /// Elastic Common Schema (ecs-logging libraries, log4j2 `EcsLayout`).
    Ecs,
    /// The OpenTelemetry log data model (`Timestamp`, `SeverityText`, `Body`, …)
    /// and OTLP/JSON log records (`timeUnixNano`, `severityNumber`, …).
    OpenTelemetry,
    /// node-bunyan (`"v":0`, numeric levels, ISO `time`).
    Bunyan,
    /// pino (numeric levels, epoch-millisecond `time`).
    Pino,
    /// zap's production encoder config (`ts` as epoch seconds, `msg`).
    ZapProduction,
    /// zap's development encoder config (`T`, `L`, `M`, `N`, `C`, `S`).
    ZapDevelopment,
    /// logrus's `JSONFormatter` (`time`, `level`, `msg`).
    Logrus,
    /// log4j2 `JsonLayout` and the `JsonTemplateLayout` template of the same shape.
    Log4j2,
    /// Logstash JSON event v1 (log4j2 `LogstashJsonEventLayoutV1`, logstash-logback-encoder).
    Logstash,
    /// GELF 1.1 (log4j2 `GelfLayout`, Graylog clients).
    Gelf,
    /// `journalctl -o json`.
    Journald,
    /// Google Cloud structured logging (`severity`, `logging.googleapis.com/*`).
    Gcp,
    /// python-json-logger (`asctime`, `levelname`, `message`, …).
    PythonJsonLogger,
    /// structlog's `JSONRenderer` (`event`, `level`, `timestamp`).
    Structlog,
    /// Docker's `json-file` logging driver (`log`, `stream`, `time`).
    Docker,
    /// Zeek network monitor logs (`_path`, `ts`, `uid`, …).
    Zeek,
}

impl Producer {
    pub const ALL: [Producer; 17] = [
        Producer::Generic,
        Producer::Ecs,
        Producer::OpenTelemetry,
        Producer::Bunyan,
        Producer::Pino,
        Producer::ZapProduction,
        Producer::ZapDevelopment,
        Producer::Logrus,
        Producer::Log4j2,
        Producer::Logstash,
        Producer::Gelf,
        Producer::Journald,
        Producer::Gcp,
        Producer::PythonJsonLogger,
        Producer::Structlog,
        Producer::Docker,
        Producer::Zeek,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Producer::Generic => "generic",
            Producer::Ecs => "ecs",
            Producer::OpenTelemetry => "opentelemetry",
            Producer::Bunyan => "bunyan",
            Producer::Pino => "pino",
            Producer::ZapProduction => "zap",
            Producer::ZapDevelopment => "zap_development",
            Producer::Logrus => "logrus",
            Producer::Log4j2 => "log4j2",
            Producer::Logstash => "logstash",
            Producer::Gelf => "gelf",
            Producer::Journald => "journald",
            Producer::Gcp => "gcp",
            Producer::PythonJsonLogger => "python_json_logger",
            Producer::Structlog => "structlog",
            Producer::Docker => "docker",
            Producer::Zeek => "zeek",
        }
    }

    /// The producer named `name` (as [`Producer::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Producer> {
        Producer::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Index into per-producer tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What a path means to a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Event time; numbers in this unit. Also accepts `{seconds, nanos}` and
    /// log4j2's `{epochSecond, nanoOfSecond}` objects.
    Timestamp(EpochUnit),
    /// Whole seconds of the event time, paired with [`Role::TimestampNanos`] (GCP).
    TimestampSeconds,
    TimestampNanos,
    Level(LevelConvention),
    /// An OpenTelemetry severity number; wins over a level text.
    SeverityNumber,
    Message,
    Service,
    Host,
    TraceId,
    SpanId,
    /// A field declared in the schema (index into the compiled declared fields).
    Declared(u16),
    /// An object whose members are attributes under another prefix
    /// (OpenTelemetry `Attributes` → top level, `Resource` → `resource.`).
    Container(&'static str),
    /// OTLP/JSON's attribute list: `[{"key": k, "value": {"stringValue": v}}]`.
    OtlpAttributes,
}

/// Where one producer writes the canonical fields.
pub(crate) struct Profile {
    /// Paths in order of preference: for one role, an earlier path wins.
    pub(crate) paths: &'static [(&'static str, Role)],
    /// Whether the schema's generic aliases (`time`, `msg`, `host`, …) also
    /// apply. Off where the producer uses those names for something else:
    /// Zeek's `host` is an HTTP Host header and its `service` a protocol.
    pub(crate) generic_aliases: bool,
    /// The service when the line names none (Zeek lines come from Zeek).
    pub(crate) constant_service: Option<&'static str>,
}

use LevelConvention as L;
use Role::*;

const ISO_OR_AUTO: Role = Timestamp(EpochUnit::Auto);

/// The profile of each producer, from the logger's documentation or source.
pub(crate) fn profile(producer: Producer) -> Profile {
    let (paths, generic_aliases, constant_service): (&'static [(&'static str, Role)], bool, _) = match producer {
        Producer::Generic => (&[], true, None),
        // ecs-logging: https://www.elastic.co/guide/en/ecs-logging/overview/current/intro.html
        Producer::Ecs => (
            &[
                ("@timestamp", ISO_OR_AUTO),
                ("log.level", Level(L::Generic)),
                ("message", Message),
                ("service.name", Service),
                ("host.hostname", Host),
                ("host.name", Host),
                ("trace.id", TraceId),
                ("span.id", SpanId),
            ],
            true,
            None,
        ),
        // Log data model (Timestamp …) and OTLP/JSON LogRecord (timeUnixNano …).
        Producer::OpenTelemetry => (
            &[
                ("Timestamp", Timestamp(EpochUnit::Nanos)),
                ("timeUnixNano", Timestamp(EpochUnit::Nanos)),
                ("SeverityNumber", SeverityNumber),
                ("severityNumber", SeverityNumber),
                ("SeverityText", Level(L::Generic)),
                ("severityText", Level(L::Generic)),
                ("Body", Message),
                ("body", Message),
                ("TraceId", TraceId),
                ("traceId", TraceId),
                ("SpanId", SpanId),
                ("spanId", SpanId),
                ("resource.service.name", Service),
                ("resource.host.name", Host),
                ("Resource", Container("resource.")),
                ("resource", Container("resource.")),
                ("InstrumentationScope", Container("scope.")),
                ("Attributes", Container("")),
                ("attributes", OtlpAttributes),
                ("resource.attributes", OtlpAttributes),
            ],
            true,
            None,
        ),
        // https://github.com/trentm/node-bunyan#core-fields
        Producer::Bunyan => (
            &[
                ("time", ISO_OR_AUTO),
                ("level", Level(L::Bunyan)),
                ("msg", Message),
                ("name", Service),
                ("hostname", Host),
            ],
            true,
            None,
        ),
        // pino: `time` is Date.now() (epoch milliseconds) by default.
        Producer::Pino => (
            &[
                ("time", Timestamp(EpochUnit::Millis)),
                ("level", Level(L::Bunyan)),
                ("msg", Message),
                ("name", Service),
                ("hostname", Host),
            ],
            true,
            None,
        ),
        // zap.NewProductionEncoderConfig: ts (EpochTimeEncoder: float seconds), level, logger, caller, msg, stacktrace.
        Producer::ZapProduction => {
            (&[("ts", Timestamp(EpochUnit::Seconds)), ("level", Level(L::Generic)), ("msg", Message)], true, None)
        }
        // zap.NewDevelopmentEncoderConfig: T (ISO8601), L (capital), N, C, M, S.
        Producer::ZapDevelopment => (&[("T", ISO_OR_AUTO), ("L", Level(L::Generic)), ("M", Message)], true, None),
        // logrus JSONFormatter: time (RFC 3339), level, msg.
        Producer::Logrus => (&[("time", ISO_OR_AUTO), ("level", Level(L::Logrus)), ("msg", Message)], true, None),
        // log4j2 JsonLayout: instant {epochSecond, nanoOfSecond} (2.11+), timeMillis (older).
        Producer::Log4j2 => (
            &[
                ("instant", ISO_OR_AUTO),
                ("timeMillis", Timestamp(EpochUnit::Millis)),
                ("level", Level(L::Generic)),
                ("message", Message),
                ("contextMap", Container("")),
            ],
            true,
            None,
        ),
        Producer::Logstash => (
            &[
                ("@timestamp", ISO_OR_AUTO),
                ("level", Level(L::Generic)),
                ("message", Message),
                ("source_host", Host),
                ("HOSTNAME", Host),
            ],
            true,
            None,
        ),
        // GELF 1.1: timestamp in epoch seconds, level a syslog severity.
        Producer::Gelf => (
            &[
                ("timestamp", Timestamp(EpochUnit::Seconds)),
                ("level", Level(L::Syslog)),
                ("short_message", Message),
                ("host", Host),
            ],
            true,
            None,
        ),
        // systemd.journal-fields(7); journalctl's JSON writes every value as a string.
        Producer::Journald => (
            &[
                ("_SOURCE_REALTIME_TIMESTAMP", Timestamp(EpochUnit::Micros)),
                ("__REALTIME_TIMESTAMP", Timestamp(EpochUnit::Micros)),
                ("PRIORITY", Level(L::Syslog)),
                ("MESSAGE", Message),
                ("SYSLOG_IDENTIFIER", Service),
                ("_COMM", Service),
                ("_HOSTNAME", Host),
            ],
            false,
            None,
        ),
        // https://cloud.google.com/logging/docs/structured-logging#special-payload-fields
        Producer::Gcp => (
            &[
                ("timestamp", ISO_OR_AUTO),
                ("time", ISO_OR_AUTO),
                ("timestampSeconds", TimestampSeconds),
                ("timestampNanos", TimestampNanos),
                ("severity", Level(L::Syslog)),
                ("message", Message),
                ("logging.googleapis.com/trace", TraceId),
                ("logging.googleapis.com/spanId", SpanId),
                ("serviceContext.service", Service),
            ],
            true,
            None,
        ),
        // python-json-logger: LogRecord attributes named in the format string.
        Producer::PythonJsonLogger => (
            &[
                ("created", Timestamp(EpochUnit::Seconds)),
                ("timestamp", ISO_OR_AUTO),
                ("asctime", ISO_OR_AUTO),
                ("levelname", Level(L::Generic)),
                ("message", Message),
                ("otelServiceName", Service),
                ("otelTraceID", TraceId),
                ("otelSpanID", SpanId),
            ],
            true,
            None,
        ),
        // structlog: JSONRenderer with add_log_level and TimeStamper.
        Producer::Structlog => (
            &[("timestamp", Timestamp(EpochUnit::Seconds)), ("level", Level(L::Generic)), ("event", Message)],
            true,
            None,
        ),
        // docker json-file: {"log": "...\n", "stream": "stdout", "time": RFC3339Nano}.
        Producer::Docker => (&[("time", ISO_OR_AUTO), ("log", Message)], true, None),
        // Zeek JSON logs: ts is ISO 8601 (json-iso8601) or epoch seconds (default).
        Producer::Zeek => (&[("ts", Timestamp(EpochUnit::Seconds)), ("msg", Message)], false, Some("zeek")),
    };
    Profile { paths, generic_aliases, constant_service }
}

/// Marker bits set by top-level keys.
mod marker {
    pub const JOURNALD: u32 = 1 << 0;
    pub const ZEEK_PATH: u32 = 1 << 1;
    pub const TS: u32 = 1 << 2;
    pub const OTEL: u32 = 1 << 3;
    pub const ECS: u32 = 1 << 4;
    pub const AT_TIMESTAMP: u32 = 1 << 5;
    pub const AT_VERSION: u32 = 1 << 6;
    pub const GELF: u32 = 1 << 7;
    pub const LOG4J2: u32 = 1 << 8;
    pub const GCP: u32 = 1 << 9;
    pub const DOCKER_LOG: u32 = 1 << 10;
    pub const DOCKER_STREAM: u32 = 1 << 11;
    pub const PYTHON: u32 = 1 << 12;
    pub const BUNYAN_V: u32 = 1 << 13;
    pub const PID_OR_HOSTNAME: u32 = 1 << 14;
    pub const LEVEL: u32 = 1 << 15;
    pub const TIME: u32 = 1 << 16;
    pub const MSG: u32 = 1 << 17;
    pub const ZAP_CALLER: u32 = 1 << 18;
    pub const ZAP_DEV_LEVEL: u32 = 1 << 19;
    pub const ZAP_DEV_MESSAGE: u32 = 1 << 20;
    pub const EVENT: u32 = 1 << 21;
    pub const MESSAGE: u32 = 1 << 22;
}

/// The marker bit of one top-level key (0 for most keys).
#[inline]
pub(crate) fn marker_of(key: &str) -> u32 {
    use marker::*;
    match key {
        "__REALTIME_TIMESTAMP"
        | "__CURSOR"
        | "_SOURCE_REALTIME_TIMESTAMP"
        | "SYSLOG_IDENTIFIER"
        | "_HOSTNAME"
        | "MESSAGE"
        | "_SYSTEMD_UNIT" => JOURNALD,
        "_path" => ZEEK_PATH,
        "ts" => TS,
        "SeverityText"
        | "SeverityNumber"
        | "Body"
        | "TraceId"
        | "SpanId"
        | "TraceFlags"
        | "InstrumentationScope"
        | "Resource"
        | "Timestamp"
        | "Attributes"
        | "timeUnixNano"
        | "observedTimeUnixNano"
        | "severityNumber"
        | "severityText"
        | "droppedAttributesCount" => OTEL,
        "ecs.version" | "ecs" | "log.level" => ECS,
        "@timestamp" => AT_TIMESTAMP,
        "@version" => AT_VERSION,
        "short_message" => GELF,
        "instant" | "timeMillis" | "loggerFqcn" | "loggerName" | "endOfBatch" | "contextMap" => LOG4J2,
        "severity" | "httpRequest" | "timestampSeconds" => GCP,
        "log" => DOCKER_LOG,
        "stream" => DOCKER_STREAM,
        "levelname" | "asctime" | "funcName" | "lineno" | "pathname" | "processName" | "threadName" | "exc_info"
        | "taskName" => PYTHON,
        "v" => BUNYAN_V,
        "pid" | "hostname" => PID_OR_HOSTNAME,
        "level" => LEVEL,
        "time" => TIME,
        "msg" => MSG,
        "caller" | "stacktrace" | "logger" => ZAP_CALLER,
        "L" => ZAP_DEV_LEVEL,
        "M" => ZAP_DEV_MESSAGE,
        "event" => EVENT,
        "message" => MESSAGE,
        _ if key.starts_with("logging.googleapis.com/") => GCP,
        _ => 0,
    }
}

/// Picks the producer from the union of a line's marker bits. The order of
/// the rules is the order of specificity: a marker only one logger writes
/// (`__REALTIME_TIMESTAMP`, `ecs.version`) is decided before shapes several
/// loggers share (`time` + `level` + `msg`).
pub(crate) fn detect(markers: u32) -> Producer {
    use marker::*;
    let has = |bits: u32| markers & bits == bits;
    if has(JOURNALD) {
        Producer::Journald
    } else if has(ZEEK_PATH | TS) {
        Producer::Zeek
    } else if has(OTEL) {
        Producer::OpenTelemetry
    } else if has(ECS) {
        Producer::Ecs
    } else if has(AT_VERSION | AT_TIMESTAMP) {
        Producer::Logstash
    } else if has(GELF) {
        Producer::Gelf
    } else if has(LOG4J2) {
        Producer::Log4j2
    } else if has(GCP) {
        Producer::Gcp
    } else if has(DOCKER_LOG | DOCKER_STREAM) {
        Producer::Docker
    } else if has(PYTHON) {
        Producer::PythonJsonLogger
    } else if has(BUNYAN_V | LEVEL | MSG) {
        Producer::Bunyan
    } else if has(PID_OR_HOSTNAME | LEVEL | TIME) {
        Producer::Pino
    } else if has(ZAP_DEV_LEVEL | ZAP_DEV_MESSAGE) {
        Producer::ZapDevelopment
    } else if has(TS | LEVEL) && markers & (MSG | ZAP_CALLER) != 0 {
        Producer::ZapProduction
    } else if has(EVENT | LEVEL) && markers & (MSG | MESSAGE) == 0 {
        Producer::Structlog
    } else if has(TIME | LEVEL | MSG) {
        Producer::Logrus
    } else {
        Producer::Generic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(keys: &[&str], expected: Producer) {
        let markers = keys.iter().fold(0, |acc, k| acc | marker_of(k));
        assert_eq!(detect(markers), expected, "keys {keys:?}");
    }

    #[test]
    fn detection_by_keys() {
        check(&["__CURSOR", "__REALTIME_TIMESTAMP", "MESSAGE", "PRIORITY"], Producer::Journald);
        check(&["_path", "ts", "uid", "id.orig_h"], Producer::Zeek);
        check(&["Timestamp", "SeverityText", "Body", "Resource"], Producer::OpenTelemetry);
        check(&["timeUnixNano", "severityNumber", "body", "attributes"], Producer::OpenTelemetry);
        check(&["@timestamp", "log.level", "message", "ecs.version"], Producer::Ecs);
        check(&["@timestamp", "@version", "message", "level"], Producer::Logstash);
        check(&["version", "host", "short_message", "timestamp", "level"], Producer::Gelf);
        check(&["instant", "thread", "level", "loggerName", "message"], Producer::Log4j2);
        check(&["severity", "message", "logging.googleapis.com/trace"], Producer::Gcp);
        check(&["log", "stream", "time"], Producer::Docker);
        check(&["asctime", "levelname", "name", "message"], Producer::PythonJsonLogger);
        check(&["name", "hostname", "pid", "level", "msg", "time", "v"], Producer::Bunyan);
        check(&["level", "time", "pid", "hostname", "msg"], Producer::Pino);
        check(&["L", "T", "C", "M"], Producer::ZapDevelopment);
        check(&["level", "ts", "caller", "msg"], Producer::ZapProduction);
        check(&["event", "level", "timestamp", "logger"], Producer::Structlog);
        check(&["level", "msg", "time"], Producer::Logrus);
        check(&["timestamp", "level", "message", "service"], Producer::Generic);
        check(&[], Producer::Generic);
    }

    #[test]
    fn every_producer_has_a_name_and_a_profile() {
        let mut names: Vec<&str> = Producer::ALL.iter().map(|p| p.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Producer::ALL.len());
        for (i, producer) in Producer::ALL.into_iter().enumerate() {
            assert_eq!(producer.index(), i);
            let profile = profile(producer);
            assert_eq!(profile.paths.is_empty(), producer == Producer::Generic);
        }
    }
}
