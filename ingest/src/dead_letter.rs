//! Dead-letter entries: one NDJSON line per rejected input line.

use base64::Engine;

use crate::summary::RejectReason;

/// Appends one dead-letter line to `out`: source, line number, reason,
/// detail and the raw line, as a string when it is UTF-8 and as base64
/// when it is not (so the file is lossless). An over-long line keeps only
/// its first `--max-line-bytes` (`raw_truncated`).
pub fn write_entry(
    out: &mut Vec<u8>,
    source: &str,
    line: u64,
    reason: RejectReason,
    detail: &str,
    raw: &[u8],
    truncated: bool,
) {
    let mut entry = serde_json::json!({
        "source": source,
        "line": line,
        "reason": reason.as_str(),
        "detail": detail,
    });
    if truncated {
        entry["raw_truncated"] = serde_json::Value::Bool(true);
    }
    match std::str::from_utf8(raw) {
        Ok(text) => entry["raw"] = serde_json::Value::String(text.to_owned()),
        Err(_) => {
            entry["raw_base64"] = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(raw))
        }
    }
    if serde_json::to_writer(&mut *out, &entry).is_ok() {
        out.push(b'\n');
    }
}
