//! The Elasticsearch bulk API, as far as log shippers use it: `index` and
//! `create` actions, the response shape and per-item statuses their
//! clients check, and `GET /` for the clients that look before they write.
//!
//! A bulk body alternates action lines and document lines. Each document
//! becomes one line of the request's chunk, numbered by its item (1 for the
//! first action), so a rejection maps back to its item. `delete` and
//! `update` items fail alone with a 400, as a read-only index would answer;
//! a malformed action line fails the whole request, as Elasticsearch does.

use serde_json::{Value, json};

use super::lines::ChunkBuilder;
use crate::pipeline::LineRejection;

/// What a bulk body holds, item by item.
pub(crate) struct BulkRequest {
    pub items: Vec<BulkItem>,
}

pub(crate) struct BulkItem {
    pub action: &'static str,
    pub index: String,
    pub id: Option<String>,
    /// The item's line in the chunk, for `index` and `create`.
    pub line: Option<u64>,
    /// Why the item failed before normalizing.
    pub error: Option<(&'static str, String)>,
}

/// Reads a bulk body into `lines`. `Err` is a whole-request failure: a
/// malformed action line, or an action without its document.
pub(crate) fn decode_bulk(body: &[u8], default_index: &str, lines: &mut ChunkBuilder) -> Result<BulkRequest, String> {
    let mut items = Vec::new();
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let mut body_lines =
        body.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).enumerate().map(|(i, l)| (i + 1, l));
    while let Some((number, action_line)) = body_lines.next() {
        if action_line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let action: Value = serde_json::from_slice(action_line)
            .map_err(|e| format!("Malformed action/metadata line [{number}], expected a JSON object: {e}"))?;
        let Some((name, meta)) = action.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
            return Err(format!(
                "Malformed action/metadata line [{number}], expected one of [create, delete, index, update] as its \
                 only key"
            ));
        };
        let action: &'static str = match name.as_str() {
            "index" => "index",
            "create" => "create",
            "delete" => "delete",
            "update" => "update",
            other => {
                return Err(format!(
                    "Malformed action/metadata line [{number}], expected one of [create, delete, index, update] but \
                     found [{other}]"
                ));
            }
        };
        let index = meta.get("_index").and_then(Value::as_str).unwrap_or(default_index).to_owned();
        let id =
            meta.get("_id").and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())));
        let mut item = BulkItem { action, index, id, line: None, error: None };
        if action != "delete" {
            let Some((_, document)) = body_lines.next() else {
                return Err(format!(
                    "The bulk request must be terminated by a newline [\\n]: line [{number}]'s document is missing"
                ));
            };
            if document.iter().all(u8::is_ascii_whitespace) {
                item.error = Some(("document_parsing_exception", "the document line is empty".to_owned()));
            } else if action == "update" {
                item.error = Some((
                    "action_request_validation_exception",
                    "Sluice keeps logs as they arrived: update is not supported; send the new event with index or create"
                        .to_owned(),
                ));
            } else {
                item.line = Some(lines.push_numbered(items.len() as u64 + 1, document));
            }
        } else {
            item.error = Some((
                "action_request_validation_exception",
                "Sluice keeps logs as they arrived: delete is not supported; drop whole days with retention instead"
                    .to_owned(),
            ));
        }
        items.push(item);
    }
    Ok(BulkRequest { items })
}

/// The bulk response: one item per action, in order, with the status real
/// Elasticsearch would give.
pub(crate) fn bulk_response(
    request: &BulkRequest,
    rejections: &[LineRejection],
    took_ms: u64,
    id_prefix: &str,
) -> Value {
    let mut rejected = rejections.iter().peekable();
    let mut errors = false;
    let mut seq_no = 0u64;
    let items: Vec<Value> = request
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item.id.clone().unwrap_or_else(|| format!("{id_prefix}-{}", i + 1));
            let rejection = item.line.and_then(|line| {
                while rejected.peek().is_some_and(|r| r.number < line) {
                    rejected.next();
                }
                rejected.next_if(|r| r.number == line)
            });
            let failure = match (&item.error, rejection) {
                (Some((kind, reason)), _) => Some((*kind, reason.clone())),
                (None, Some(rejection)) => Some((
                    "document_parsing_exception",
                    format!("[{}] {}", rejection.reason.as_str(), rejection.detail),
                )),
                (None, None) => None,
            };
            let body = match failure {
                Some((kind, reason)) => {
                    errors = true;
                    json!({"_index": item.index, "_id": id, "status": 400, "error": {"type": kind, "reason": reason}})
                }
                None => {
                    seq_no += 1;
                    json!({
                        "_index": item.index, "_id": id, "_version": 1, "result": "created",
                        "_shards": {"total": 1, "successful": 1, "failed": 0},
                        "_seq_no": seq_no - 1, "_primary_term": 1, "status": 201
                    })
                }
            };
            json!({ item.action: body })
        })
        .collect();
    json!({"took": took_ms, "errors": errors, "items": items})
}

/// `GET /`: what Elasticsearch clients read to decide they may talk to us.
pub(crate) fn root_info() -> Value {
    json!({
        "name": "sluice",
        "cluster_name": "sluice",
        "cluster_uuid": "c2x1aWNlLWluZ2VzdA",
        "version": {
            "number": "8.11.0",
            "build_flavor": "default",
            "build_type": "sluice",
            "build_hash": "sluice",
            "build_date": "2023-11-04T10:04:57.184859352Z",
            "build_snapshot": false,
            "lucene_version": "9.8.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::RejectReason;

    fn decode(body: &str) -> (Result<BulkRequest, String>, crate::pipeline::Chunk) {
        let mut lines = ChunkBuilder::new("test", None, None, 1 << 20);
        let request = decode_bulk(body.as_bytes(), "logs", &mut lines);
        (request, lines.finish())
    }

    #[test]
    fn items_map_to_lines_and_statuses_in_order() {
        let body = "{\"index\":{\"_index\":\"app\",\"_id\":\"a1\"}}\n{\"msg\":\"one\"}\n\
                    {\"delete\":{\"_id\":\"x\"}}\n\
                    {\"create\":{}}\nnot json\n\
                    {\"update\":{\"_id\":\"u\"}}\n{\"doc\":{}}\n\
                    {\"index\":{}}\n{\"msg\":\"two\"}\n";
        let (request, chunk) = decode(body);
        let request = request.unwrap();
        assert_eq!(chunk.lines.iter().map(|l| l.number).collect::<Vec<_>>(), [1, 3, 5]);
        // delete and update carry no line.
        assert_eq!(chunk.lines_read, 3);
        let rejections = [LineRejection {
            number: 3,
            reason: RejectReason::Normalize(sluice_schemas::RejectReason::InvalidJson),
            detail: "not valid JSON at byte 0".to_owned(),
        }];
        let response = bulk_response(&request, &rejections, 7, "r");
        assert_eq!(response["took"], 7);
        assert_eq!(response["errors"], true);
        let statuses: Vec<(String, u64)> = response["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let (action, body) = item.as_object().unwrap().iter().next().unwrap();
                (action.clone(), body["status"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(
            statuses,
            [
                ("index".to_owned(), 201),
                ("delete".to_owned(), 400),
                ("create".to_owned(), 400),
                ("update".to_owned(), 400),
                ("index".to_owned(), 201)
            ]
        );
        assert_eq!(response["items"][0]["index"]["_id"], "a1");
        assert_eq!(response["items"][0]["index"]["_index"], "app");
        assert_eq!(response["items"][4]["index"]["_id"], "r-5");
        assert_eq!(response["items"][4]["index"]["_index"], "logs");
        assert_eq!(response["items"][2]["create"]["error"]["reason"], "[invalid_json] not valid JSON at byte 0");
    }

    #[test]
    fn a_malformed_action_line_fails_the_request() {
        let (request, _) = decode("{\"index\":{}}\n{}\n{\"frobnicate\":{}}\n{}\n");
        assert_eq!(
            request.err().unwrap(),
            "Malformed action/metadata line [3], expected one of [create, delete, index, update] but found [frobnicate]"
        );
        let (request, _) = decode("{\"index\":{}}\n");
        assert!(request.err().unwrap().contains("line [1]'s document is missing"));
        let (request, _) = decode("[1]\n{}\n");
        assert!(request.err().unwrap().starts_with("Malformed action/metadata line [1]"));
    }
}
