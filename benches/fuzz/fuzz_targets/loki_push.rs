//! Loki push bodies. The first byte picks how the rest is sent: as JSON,
//! as protobuf the target compresses with snappy (so the fuzzer explores
//! the protobuf, not the compression), or as a raw body that claims to
//! be snappy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::check_chunk;
use sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES;
use sluice_ingest::serve::fuzzing::loki_push;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let result = match first % 3 {
        0 => loki_push(body, false),
        1 => {
            let compressed = snap::raw::Encoder::new().compress_vec(body).expect("snappy compresses any bytes");
            loki_push(&compressed, true)
        }
        _ => loki_push(body, true),
    };
    if let Ok(chunk) = result {
        check_chunk(&chunk, DEFAULT_MAX_LINE_BYTES);
    }
});
