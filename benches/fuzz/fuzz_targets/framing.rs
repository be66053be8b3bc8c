//! Line framing: an NDJSON body cut into lines as the server and standard
//! input cut them, under a line limit the first byte picks (1 byte to
//! 64 KiB), and the limit at the default. Every line read is counted once
//! and lies within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::check_chunk;
use sluice_ingest::serve::fuzzing::ndjson;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let limit = 1usize << (first % 17);
    let chunk = ndjson(body, limit);
    check_chunk(&chunk, limit);
    let newlines = body.iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = u64::from(!body.is_empty() && !body.ends_with(b"\n"));
    assert_eq!(chunk.lines_read, newlines + unterminated, "one line per newline, and the unterminated last");
    let whole = ndjson(body, sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES);
    check_chunk(&whole, sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES);
    assert_eq!(whole.lines_read, chunk.lines_read, "the limit never changes how many lines there are");
});
