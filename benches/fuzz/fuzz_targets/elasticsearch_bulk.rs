//! Elasticsearch `_bulk` bodies: action and document lines. A body is
//! refused as a whole, or every document it carries is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::check_chunk;
use sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES;
use sluice_ingest::serve::fuzzing::elasticsearch_bulk;

fuzz_target!(|data: &[u8]| {
    if let Ok(chunk) = elasticsearch_bulk(data) {
        check_chunk(&chunk, DEFAULT_MAX_LINE_BYTES);
        // A document is a line after an action line.
        let body_lines = data.split(|&b| b == b'\n').count() as u64;
        assert!(chunk.lines_read <= body_lines, "no more documents than lines");
    }
});
