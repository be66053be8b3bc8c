//! Writes the seed corpus of every fuzz target into DIR/<target>/, from
//! the fixtures (real producers' lines, malformed lines, schemas) dressed
//! in each protocol: `fuzz-seeds DIR`.

use std::path::{Path, PathBuf};

use sluice_fuzz::{SAMPLE_LINES, sample_store};
use sluice_index::storage::Storage;
use sluice_index::wal::WalReader;
use sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES;
use sluice_ingest::serve::fuzzing::{loki_protobuf_seed, ndjson, otlp_protobuf_seed, wal_encode};
use sluice_query::around::EventRef;
use sluice_query::time::TimeRange;

/// Every reason a line is rejected, invalid UTF-8 among them.
const MALFORMED: &[u8] = include_bytes!("../../../../fixtures/malformed/every-reason.ndjson");

const QUERIES: &[&str] = &[
    "*",
    "level:error",
    "service:checkout AND NOT level:info",
    "message:\"connection refused\"",
    "timeout OR refused",
    "-level:debug",
    "(error OR warn) AND service:api",
    "attributes.http.status:500",
    "http.status:[400 TO 499]",
    "mesage:foo",
    "trace_id:4bf92f3577b34da6a3ce929d0e0e4736",
    "host:web-1 -service:db",
    "user.id:42 AND (status:>=500 OR latency:>1.5)",
    "\"quoted phrase\"~2",
    "name:/regex.*/",
];

/// LogQL as Grafana and people write it: every supported construct, and a
/// few that are refused.
const LOGQL: &[&str] = &[
    r#"{service_name="api"}"#,
    r#"{service_name=~".+", level!="info", host!~"db-.*"} |= "timeout" or "refused" != "debug" |~ "(?i)conn" !~ "x+""#,
    r#"{service_name="api"} | json | status >= 500 and duration > 250ms or size < 1KiB | line_format "{{.path}}" | keep path"#,
    r#"{service="api"} | logfmt | drop __error__, host"#,
    r#"sum by (level, detected_level) (count_over_time({service_name=~".+"} | drop __error__[1m]))"#,
    r#"topk(3, sum without (host) (rate({host=~"h.*"} |= "GET" [30s])))"#,
    r#"quantile_over_time(0.99, {service_name="api"} | json | unwrap duration(latency) [5m]) by (path)"#,
    r#"avg_over_time({service_name="api"} | json | unwrap bytes(size) [5m]) by (host) * 2 + vector(1)"#,
    "sum(bytes_rate({level=\"error\"}[1h])) / sum(bytes_over_time({level=\"error\"}[1h])) ^ 2 % 3",
    "vector(1)+vector(1)",
    r#"{service_name=~"^api$"} |= "ders fail""#,
    r#"{a="b"} | pattern "<_> <x>""#,
    r#"count_over_time({a="b"}[5m] offset 1h)"#,
];

const TIMES: &[&str] = &[
    "2h\n\nUTC\n5m\n1d",
    "2026-12-01\n2026-12-02\n+02:00\n1h\n2026-11-30..2026-12-01",
    "1970-01-01\n9999-12-31\nlocal\n1s\n30d",
    "today\nnow\nEurope/Paris\nauto\nyesterday..today",
    "2025-01-01T10:00:00Z\n2025-01-01T10:00:00.123456789+05:30\n-0530\n1w\n1h",
    "1700000000\n1700003600\nUTC\n30s\n15m",
    "15m\n5m\nAmerica/New_York\n1m\n2h",
];

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: fuzz-seeds DIR"));
    let producers: Vec<&[u8]> = SAMPLE_LINES.iter().map(|s| s.as_bytes()).chain([MALFORMED]).collect();
    let lines_of = |text: &str| text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect::<Vec<_>>();

    for (i, bytes) in producers.iter().enumerate() {
        write(&out, "framing", &format!("producer-{i}"), &[&[16u8][..], bytes].concat());
        write(&out, "framing", &format!("producer-{i}-short"), &[&[6u8][..], bytes].concat());
        for strict in [0u8, 1] {
            write(&out, "normalize", &format!("producer-{i}-{strict}"), &[&[strict][..], bytes].concat());
        }
        // The protocols below carry text.
        let text = &*String::from_utf8_lossy(bytes);
        let lines = lines_of(text);
        let mut bulk = String::new();
        for (n, line) in lines.iter().enumerate() {
            let action = if n % 2 == 0 { r#"{"index":{"_index":"logs"}}"# } else { r#"{"create":{"_id":"7"}}"# };
            bulk.push_str(action);
            bulk.push('\n');
            bulk.push_str(line);
            bulk.push('\n');
        }
        bulk.push_str("{\"delete\":{\"_id\":\"1\"}}\n");
        write(&out, "elasticsearch_bulk", &format!("producer-{i}"), bulk.as_bytes());

        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let values: Vec<String> = refs
            .iter()
            .enumerate()
            .map(|(n, line)| {
                let line = serde_json_string(line);
                if n % 2 == 0 {
                    format!("[\"{}\",{line}]", 1_700_000_000_000_000_000u64 + n as u64)
                } else {
                    format!("[\"{}\",{line},{{\"trace_id\":\"abc\"}}]", 1_700_000_000_000_000_000u64 + n as u64)
                }
            })
            .collect();
        let loki_json = format!(
            "{{\"streams\":[{{\"stream\":{{\"service_name\":\"api\",\"level\":\"info\"}},\"values\":[{}]}}]}}",
            values.join(",")
        );
        write(&out, "loki_push", &format!("json-{i}"), &[&[0u8][..], loki_json.as_bytes()].concat());
        let proto = loki_protobuf_seed("{job=\"api\", level=\"warn\"}", &refs);
        write(&out, "loki_push", &format!("protobuf-{i}"), &[&[1u8][..], &proto].concat());
        let snappy = snap::raw::Encoder::new().compress_vec(&proto).expect("snappy compresses");
        write(&out, "loki_push", &format!("snappy-{i}"), &[&[2u8][..], &snappy].concat());

        let records: Vec<String> = refs
            .iter()
            .enumerate()
            .map(|(n, line)| {
                format!(
                    "{{\"timeUnixNano\":\"{}\",\"severityNumber\":9,\"severityText\":\"INFO\",\"body\":{{\"stringValue\":{}}},\
                     \"attributes\":[{{\"key\":\"http.status\",\"value\":{{\"intValue\":\"200\"}}}}],\
                     \"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\"}}",
                    1_700_000_000_000_000_000u64 + n as u64,
                    serde_json_string(line)
                )
            })
            .collect();
        let otlp_json = format!(
            "{{\"resourceLogs\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"service.name\",\"value\":\
             {{\"stringValue\":\"api\"}}}}]}},\"scopeLogs\":[{{\"scope\":{{\"name\":\"app\"}},\"logRecords\":[{}]}}]}}]}}",
            records.join(",")
        );
        write(&out, "otlp_logs", &format!("json-{i}"), &[&[0u8][..], otlp_json.as_bytes()].concat());
        write(&out, "otlp_logs", &format!("protobuf-{i}"), &[&[1u8][..], &otlp_protobuf_seed(&refs)].concat());

        let chunk = ndjson(bytes, DEFAULT_MAX_LINE_BYTES);
        write(&out, "wal", &format!("payload-{i}"), &wal_encode(&chunk)[8..]);
        write(&out, "wal", &format!("segment-{i}"), &segment(bytes));
    }
    for (i, query) in QUERIES.iter().enumerate() {
        write(&out, "query_string", &format!("query-{i}"), query.as_bytes());
    }
    for (i, query) in LOGQL.iter().enumerate() {
        write(&out, "logql", &format!("logql-{i}"), query.as_bytes());
    }
    for (i, times) in TIMES.iter().enumerate() {
        write(&out, "time_expression", &format!("times-{i}"), times.as_bytes());
    }
    let (hits, _) = sample_store().search("*", TimeRange::ALL, 20, false).expect("the sample is searched");
    for (i, hit) in hits.iter().enumerate() {
        write(
            &out,
            "event_reference",
            &format!("hit-{i}"),
            format!("{}\n{}\n{}", EventRef::of(hit), i % 4, i % 7).as_bytes(),
        );
    }
    write(&out, "event_reference", "far", b"3000000:0:0\n1000000\n1000000");
    write(&out, "event_reference", "second-dir", b"1/473000:1:0");
}

/// A real log segment: two groups of entries, written as the server does.
fn segment(text: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wal_dir = dir.path().join("wal");
    let mut wal = WalReader::open(&wal_dir, Storage::local(), 0)
        .and_then(|reader| reader.into_writer(0, 1 << 30))
        .expect("a new log opens");
    let (first, second) = text.split_at(text.len() / 2);
    for part in [first, second] {
        wal.append_durably(&wal_encode(&ndjson(part, DEFAULT_MAX_LINE_BYTES))).expect("appended");
    }
    std::fs::read(wal_dir.join(format!("{:020}.wal", 0))).expect("the segment is read")
}

/// `text` as a JSON string literal.
fn serde_json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write(out: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir).expect("the seed directory is made");
    std::fs::write(dir.join(name), bytes).expect("the seed is written");
}
