//! OTLP/HTTP logs export bodies, protobuf or JSON as the first byte says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::check_chunk;
use sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES;
use sluice_ingest::serve::fuzzing::otlp_logs;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    if let Ok(chunk) = otlp_logs(body, first & 1 == 1) {
        check_chunk(&chunk, DEFAULT_MAX_LINE_BYTES);
    }
});
