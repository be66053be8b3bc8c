//! Loki push (`POST /loki/api/v1/push`): JSON, and snappy-compressed
//! protobuf as Promtail, Grafana Alloy and Vector send it.
//!
//! Each entry becomes one line. A line that is itself a JSON object keeps
//! its fields (as Loki's `| json` would read them); any other line becomes
//! the message. The stream's labels and the entry's structured metadata are
//! added as fields the line does not already have, so `service_name`,
//! `level` or `host` labels fill those canonical fields through the
//! schema's aliases, and the rest are attributes. The entry's timestamp is
//! the record's `timestamp` unless the line has its own.
//!
//! A request's `X-Scope-OrgID` (Loki's tenant) becomes the `tenant` field
//! of each of its lines, over any the line has: `sluice serve` shows a
//! request with that header only the lines of its tenant.

use serde_json::{Map, Value};

use super::lines::ChunkBuilder;

/// `logproto.PushRequest`, from Loki's `pkg/push/push.proto` (the fields
/// clients send; prost skips the others).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StreamAdapter {
    /// Prometheus label set syntax: `{job="api", level="info"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<ProtoTimestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoTimestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Decodes a push body (`protobuf`: snappy-compressed protobuf, else JSON)
/// into one line per entry.
pub(crate) fn decode_push(
    body: &[u8],
    protobuf: bool,
    max_bytes: usize,
    tenant: Option<&str>,
    lines: &mut ChunkBuilder,
) -> Result<(), String> {
    if protobuf {
        use prost::Message;
        let length = snap::raw::decompress_len(body).map_err(|e| format!("the body is not snappy-compressed: {e}"))?;
        if length > max_bytes {
            return Err(format!("the body decompresses to {length} bytes, more than {max_bytes} (--max-body-bytes)"));
        }
        let raw = snap::raw::Decoder::new()
            .decompress_vec(body)
            .map_err(|e| format!("the body is not snappy-compressed: {e}"))?;
        let request = PushRequest::decode(raw.as_slice())
            .map_err(|e| format!("the body is not a Loki PushRequest in protobuf: {e}"))?;
        for stream in request.streams {
            let labels = parse_labels(&stream.labels)?;
            for entry in stream.entries {
                let nanos = entry.timestamp.map(|t| t.seconds as i128 * 1_000_000_000 + t.nanos as i128);
                let metadata = entry.structured_metadata.into_iter().map(|p| (p.name, p.value));
                push_entry(lines, nanos.and_then(|n| u64::try_from(n).ok()), &entry.line, &labels, metadata, tenant);
            }
        }
        return Ok(());
    }
    let request: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not a Loki push request in JSON: {e}"))?;
    let streams = request.get("streams").and_then(Value::as_array).ok_or("expected {\"streams\": [...]}")?;
    for (i, stream) in streams.iter().enumerate() {
        let labels: Vec<(String, String)> = match stream.get("stream") {
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            None => Vec::new(),
            Some(_) => return Err(format!("streams[{i}].stream must be an object of labels")),
        };
        let values = stream.get("values").and_then(Value::as_array).ok_or(format!("streams[{i}].values is missing"))?;
        for (j, value) in values.iter().enumerate() {
            let entry = value.as_array().filter(|a| (2..=3).contains(&a.len()));
            let (Some(time), Some(line)) = (entry.and_then(|e| e[0].as_str()), entry.and_then(|e| e[1].as_str()))
            else {
                return Err(format!(
                    "streams[{i}].values[{j}] must be [\"<unix epoch in nanoseconds>\", \"<log line>\"(, {{metadata}})]"
                ));
            };
            let nanos = time
                .parse::<u64>()
                .map_err(|_| format!("streams[{i}].values[{j}]: `{time}` is not a unix epoch in nanoseconds"))?;
            let metadata: Vec<(String, String)> = match entry.and_then(|e| e.get(2)) {
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect(),
                _ => Vec::new(),
            };
            push_entry(lines, Some(nanos), line, &labels, metadata, tenant);
        }
    }
    Ok(())
}

fn push_entry(
    lines: &mut ChunkBuilder,
    nanos: Option<u64>,
    line: &str,
    labels: &[(String, String)],
    metadata: impl IntoIterator<Item = (String, String)>,
    tenant: Option<&str>,
) {
    let mut object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        _ => {
            let mut object = Map::new();
            object.insert("message".to_owned(), Value::String(line.to_owned()));
            object
        }
    };
    if let Some(nanos) = nanos
        && !object.contains_key("timestamp")
    {
        object.insert("timestamp".to_owned(), Value::from(nanos));
    }
    let pairs = labels.iter().map(|(k, v)| (k.clone(), v.clone())).chain(metadata);
    for (name, value) in pairs {
        object.entry(name).or_insert(Value::String(value));
    }
    if let Some(tenant) = tenant {
        object.insert("tenant".to_owned(), Value::String(tenant.to_owned()));
    }
    let mut bytes = Vec::with_capacity(line.len() + 128);
    // Writing a Value to memory cannot fail.
    let _ = serde_json::to_writer(&mut bytes, &Value::Object(object));
    lines.push(&bytes);
}

/// Parses a Prometheus label set: `{job="api", msg="say \"hi\""}`.
pub(crate) fn parse_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let error = |what: &str| format!("stream labels `{text}`: {what}");
    let inner = text.trim();
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    let inner = inner.strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or_else(|| error("expected {…}"))?;
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(labels);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.') {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if name.is_empty() || chars.next() != Some('=') {
            return Err(error("expected name=\"value\""));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('"') {
            return Err(error("expected a quoted value"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(c) => value.push(c),
                    None => return Err(error("unterminated value")),
                },
                Some(c) => value.push(c),
                None => return Err(error("unterminated value")),
            }
        }
        labels.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Chunk;

    fn lines_of(chunk: &Chunk) -> Vec<Value> {
        chunk.lines.iter().map(|l| serde_json::from_slice(&chunk.data[l.start..l.end]).unwrap()).collect()
    }

    #[test]
    fn labels_are_parsed_with_escapes() {
        assert_eq!(
            parse_labels(r#"{job="api", msg="say \"hi\"\n", service_name="checkout"}"#).unwrap(),
            [
                ("job".to_owned(), "api".to_owned()),
                ("msg".to_owned(), "say \"hi\"\n".to_owned()),
                ("service_name".to_owned(), "checkout".to_owned())
            ]
        );
        assert_eq!(parse_labels("{}").unwrap(), []);
        assert!(parse_labels(r#"{job="api}"#).unwrap_err().ends_with("unterminated value"));
        assert!(parse_labels("job=api").unwrap_err().ends_with("expected {…}"));
    }

    #[test]
    fn the_tenant_header_is_every_lines_tenant() {
        let json = r#"{"streams":[{"stream":{"service_name":"api","tenant":"b"},
            "values":[["1700000000000000000","{\"msg\":\"x\",\"tenant\":\"c\"}"]]}]}"#;
        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        decode_push(json.as_bytes(), false, 1 << 20, Some("team-a"), &mut lines).unwrap();
        assert_eq!(
            lines_of(&lines.finish()),
            [serde_json::json!({"msg": "x", "tenant": "team-a", "timestamp": 1_700_000_000_000_000_000u64,
                "service_name": "api"})]
        );
    }

    #[test]
    fn json_and_snappy_protobuf_pushes_become_the_same_lines() {
        let json = r#"{"streams":[{"stream":{"service_name":"checkout","level":"warn"},
            "values":[["1700000000123456789","card declined"],
                      ["1700000001000000000","{\"msg\":\"structured\",\"level\":\"error\"}",{"trace_id":"abc"}]]}]}"#;
        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        decode_push(json.as_bytes(), false, 1 << 20, None, &mut lines).unwrap();
        let from_json = lines.finish();
        assert_eq!(
            lines_of(&from_json),
            [
                serde_json::json!({"message": "card declined", "timestamp": 1_700_000_000_123_456_789u64,
                "service_name": "checkout", "level": "warn"}),
                serde_json::json!({"msg": "structured", "level": "error", "timestamp": 1_700_000_001_000_000_000u64,
                "service_name": "checkout", "trace_id": "abc"}),
            ]
        );

        use prost::Message;
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{service_name="checkout", level="warn"}"#.to_owned(),
                entries: vec![
                    EntryAdapter {
                        timestamp: Some(ProtoTimestamp { seconds: 1_700_000_000, nanos: 123_456_789 }),
                        line: "card declined".to_owned(),
                        structured_metadata: vec![],
                    },
                    EntryAdapter {
                        timestamp: Some(ProtoTimestamp { seconds: 1_700_000_001, nanos: 0 }),
                        line: r#"{"msg":"structured","level":"error"}"#.to_owned(),
                        structured_metadata: vec![LabelPairAdapter { name: "trace_id".into(), value: "abc".into() }],
                    },
                ],
            }],
        };
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        decode_push(&body, true, 1 << 20, None, &mut lines).unwrap();
        assert_eq!(lines_of(&lines.finish()), lines_of(&from_json));

        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        let error = decode_push(&body, true, 10, None, &mut lines).unwrap_err();
        assert!(error.ends_with("more than 10 (--max-body-bytes)"), "{error}");
        let error =
            decode_push(br#"{"streams":[{"values":[[1,"x"]]}]}"#, false, 1 << 20, None, &mut lines).unwrap_err();
        assert_eq!(
            error,
            "streams[0].values[0] must be [\"<unix epoch in nanoseconds>\", \"<log line>\"(, {metadata})]"
        );
    }
}
