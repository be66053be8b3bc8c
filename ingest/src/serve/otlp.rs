//! OTLP/HTTP logs (`POST /v1/logs`), protobuf and JSON, through the
//! `opentelemetry-proto` message types.
//!
//! Each log record becomes one line in the OpenTelemetry log data model's
//! JSON shape (`Timestamp`, `SeverityNumber`, `SeverityText`, `Body`,
//! `TraceId`, `SpanId`, `Resource`, `InstrumentationScope`, `Attributes`),
//! which the normalizer reads with its OpenTelemetry profile: the resource's
//! `service.name` and `host.name` become `service` and `host`, the other
//! resource attributes `resource.*`, the scope `scope.*`, the record's
//! attributes top-level attributes. Records are numbered in request order,
//! which is how a partial success counts them.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Map, Value};

use super::lines::ChunkBuilder;
use crate::pipeline::LineRejection;

/// How the request was encoded; the answer uses the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From `Content-Type`; `None` for anything OTLP/HTTP does not define.
    pub fn of(content_type: Option<&str>) -> Option<Encoding> {
        let mime = content_type?.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Decodes an export request into one line per log record.
pub(crate) fn decode_logs(body: &[u8], encoding: Encoding, lines: &mut ChunkBuilder) -> Result<(), String> {
    let request = match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|e| format!("the body is not an OTLP ExportLogsServiceRequest in protobuf: {e}"))?,
        Encoding::Json => serde_json::from_slice::<ExportLogsServiceRequest>(body)
            .map_err(|e| format!("the body is not an OTLP ExportLogsServiceRequest in JSON: {e}"))?,
    };
    let mut line = Vec::with_capacity(512);
    for resource_logs in request.resource_logs {
        let resource = resource_logs.resource.map(|r| attributes(&r.attributes));
        for scope_logs in resource_logs.scope_logs {
            let scope = scope_logs.scope.map(|scope| {
                let mut object = attributes(&scope.attributes);
                if !scope.name.is_empty() {
                    object.insert("name".to_owned(), Value::String(scope.name));
                }
                if !scope.version.is_empty() {
                    object.insert("version".to_owned(), Value::String(scope.version));
                }
                object
            });
            for record in scope_logs.log_records {
                let mut object = Map::new();
                let time =
                    if record.time_unix_nano != 0 { record.time_unix_nano } else { record.observed_time_unix_nano };
                if time != 0 {
                    object.insert("Timestamp".to_owned(), Value::from(time));
                }
                if record.severity_number != 0 {
                    object.insert("SeverityNumber".to_owned(), Value::from(record.severity_number));
                }
                if !record.severity_text.is_empty() {
                    object.insert("SeverityText".to_owned(), Value::String(record.severity_text));
                }
                if let Some(body) = record.body.as_ref() {
                    object.insert("Body".to_owned(), any_value(body));
                }
                if record.trace_id.iter().any(|&b| b != 0) {
                    object.insert("TraceId".to_owned(), Value::String(hex(&record.trace_id)));
                }
                if record.span_id.iter().any(|&b| b != 0) {
                    object.insert("SpanId".to_owned(), Value::String(hex(&record.span_id)));
                }
                if let Some(resource) = &resource
                    && !resource.is_empty()
                {
                    object.insert("Resource".to_owned(), Value::Object(resource.clone()));
                }
                if let Some(scope) = &scope
                    && !scope.is_empty()
                {
                    object.insert("InstrumentationScope".to_owned(), Value::Object(scope.clone()));
                }
                let mut attributes = attributes(&record.attributes);
                if !record.event_name.is_empty() {
                    attributes.insert("event.name".to_owned(), Value::String(record.event_name));
                }
                if !attributes.is_empty() {
                    object.insert("Attributes".to_owned(), Value::Object(attributes));
                }
                line.clear();
                // Writing a Value to memory cannot fail.
                let _ = serde_json::to_writer(&mut line, &Value::Object(object));
                lines.push(&line);
            }
        }
    }
    Ok(())
}

/// The answer: success, or a partial success that counts the rejected records.
pub(crate) fn export_response(encoding: Encoding, rejections: &[LineRejection]) -> Vec<u8> {
    let partial_success = (!rejections.is_empty()).then(|| {
        let mut message: Vec<String> = rejections
            .iter()
            .take(5)
            .map(|r| format!("record {}: {}: {}", r.number, r.reason.as_str(), r.detail))
            .collect();
        if rejections.len() > 5 {
            message.push(format!("and {} more", rejections.len() - 5));
        }
        ExportLogsPartialSuccess { rejected_log_records: rejections.len() as i64, error_message: message.join("; ") }
    });
    let response = ExportLogsServiceResponse { partial_success };
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // Full success is `{}`: serde would write `"partialSuccess": null`.
        Encoding::Json if response.partial_success.is_none() => b"{}".to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

/// `google.rpc.Status`: OTLP/HTTP answers a failed export with one, in the
/// request's encoding, and exporters print its message. Its `details`
/// (field 3) are left out: nothing here needs them. The type is not in
/// `opentelemetry-proto`, so it is declared here with prost's derive.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The body of a failed export: a `google.rpc.Status` whose code is the
/// gRPC code the OTLP spec pairs with the HTTP status.
pub(crate) fn error_response(encoding: Encoding, http_status: u16, message: &str) -> Vec<u8> {
    let code = match http_status {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        404 => 5,             // NOT_FOUND
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    };
    let status = RpcStatus { code, message: message.to_owned() };
    match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&status).unwrap_or_default(),
    }
}

fn attributes(list: &[KeyValue]) -> Map<String, Value> {
    list.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, any_value))).collect()
}

fn any_value(value: &AnyValue) -> Value {
    use any_value::Value as V;
    match &value.value {
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        Some(V::ArrayValue(array)) => Value::Array(array.values.iter().map(any_value).collect()),
        Some(V::KvlistValue(list)) => Value::Object(attributes(&list.values)),
        Some(V::BytesValue(bytes)) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        // A string-table index (profiles only): nothing to resolve it against here.
        Some(V::StringValueStrindex(i)) => Value::from(*i),
        None => Value::Null,
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Chunk;

    const JSON_EXPORT: &str = r#"{"resourceLogs":[{
        "resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"checkout"}},
            {"key":"host.name","value":{"stringValue":"web-1"}},
            {"key":"deployment.environment","value":{"stringValue":"prod"}}]},
        "scopeLogs":[{"scope":{"name":"checkout.payments","version":"1.2.0"},
            "logRecords":[
              {"timeUnixNano":"1700000000123456789","severityNumber":17,"severityText":"ERROR",
               "body":{"stringValue":"card declined"},
               "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
               "attributes":[{"key":"http.status_code","value":{"intValue":"402"}},
                             {"key":"retry","value":{"boolValue":true}}]},
              {"observedTimeUnixNano":"1700000001000000000","body":{"stringValue":"no time, no level"}}
            ]}]}]}"#;

    fn decode(body: &[u8], encoding: Encoding) -> Chunk {
        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        decode_logs(body, encoding, &mut lines).unwrap();
        lines.finish()
    }

    fn line(chunk: &Chunk, i: usize) -> Value {
        let l = &chunk.lines[i];
        serde_json::from_slice(&chunk.data[l.start..l.end]).unwrap()
    }

    #[test]
    fn json_and_protobuf_exports_become_the_same_data_model_lines() {
        let from_json = decode(JSON_EXPORT.as_bytes(), Encoding::Json);
        assert_eq!(from_json.lines_read, 2);
        assert_eq!(
            line(&from_json, 0),
            serde_json::json!({
                "Timestamp": 1_700_000_000_123_456_789u64, "SeverityNumber": 17, "SeverityText": "ERROR",
                "Body": "card declined",
                "TraceId": "5b8efff798038103d269b633813fc60c", "SpanId": "eee19b7ec3c1b174",
                "Resource": {"service.name": "checkout", "host.name": "web-1", "deployment.environment": "prod"},
                "InstrumentationScope": {"name": "checkout.payments", "version": "1.2.0"},
                "Attributes": {"http.status_code": 402, "retry": true}
            })
        );
        assert_eq!(line(&from_json, 1)["Timestamp"], 1_700_000_001_000_000_000u64);

        let request: ExportLogsServiceRequest = serde_json::from_str(JSON_EXPORT).unwrap();
        let from_protobuf = decode(&request.encode_to_vec(), Encoding::Protobuf);
        assert_eq!(from_protobuf.data, from_json.data);
    }

    #[test]
    fn failures_are_google_rpc_status_in_the_request_encoding() {
        let json = error_response(Encoding::Json, 429, "retry shortly");
        assert_eq!(String::from_utf8(json).unwrap(), r#"{"code":8,"message":"retry shortly"}"#);
        let protobuf = error_response(Encoding::Protobuf, 400, "bad body");
        // field 1 varint 3, field 2 length-delimited "bad body"
        assert_eq!(protobuf, b"\x08\x03\x12\x08bad body");
        assert_eq!(RpcStatus::decode(protobuf.as_slice()).unwrap(), RpcStatus { code: 3, message: "bad body".into() });
    }

    #[test]
    fn bad_bodies_and_partial_successes_are_reported() {
        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        let error = decode_logs(b"\xff\xff\xff", Encoding::Protobuf, &mut lines).unwrap_err();
        assert!(error.starts_with("the body is not an OTLP ExportLogsServiceRequest in protobuf: "), "{error}");
        let error = decode_logs(b"{\"resourceLogs\": 3}", Encoding::Json, &mut lines).unwrap_err();
        assert!(error.starts_with("the body is not an OTLP ExportLogsServiceRequest in JSON: "), "{error}");

        assert_eq!(export_response(Encoding::Json, &[]), b"{}");
        assert!(export_response(Encoding::Protobuf, &[]).is_empty());
        let rejection = LineRejection {
            number: 2,
            reason: crate::summary::RejectReason::Normalize(sluice_schemas::RejectReason::MissingRequiredField),
            detail: "`service` is required".to_owned(),
        };
        let answer: Value = serde_json::from_slice(&export_response(Encoding::Json, &[rejection])).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"partialSuccess": {"rejectedLogRecords": 1,
                "errorMessage": "record 2: missing_required_field: `service` is required"}})
        );
        assert_eq!(Encoding::of(Some("application/x-protobuf")), Some(Encoding::Protobuf));
        assert_eq!(Encoding::of(Some("application/json; charset=utf-8")), Some(Encoding::Json));
        assert_eq!(Encoding::of(Some("text/plain")), None);
    }
}
