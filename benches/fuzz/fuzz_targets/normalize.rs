//! JSON parse and normalize, as a server worker runs it on a request's
//! lines: under the default schema, and under a strict one (every record
//! must name its service) that the first byte picks. The account always
//! balances: accepted + rejected + blank = lines read.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use sluice_ingest::pipeline::IngestConfig;
use sluice_ingest::serve::fuzzing::{Normalizing, ndjson};

const STRICT_SCHEMA: &str = include_str!("../../../fixtures/schemas/require-service.toml");

fn normalizer(strict: bool) -> &'static Mutex<Normalizing> {
    static DEFAULT: OnceLock<Mutex<Normalizing>> = OnceLock::new();
    static STRICT: OnceLock<Mutex<Normalizing>> = OnceLock::new();
    let cell = if strict { &STRICT } else { &DEFAULT };
    cell.get_or_init(|| {
        let root = tempfile::Builder::new().prefix("sluice-fuzz-").tempdir().expect("a temporary directory").keep();
        let mut config = IngestConfig::new(root.join("data"), Vec::new());
        if strict {
            let schema = root.join("strict.toml");
            std::fs::write(&schema, STRICT_SCHEMA).expect("the schema is written");
            config.schema = Some(schema);
        }
        config.command = "fuzz".into();
        Mutex::new(Normalizing::open(&config).expect("the data directory opens"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let strict = first & 1 == 1;
    let chunk = ndjson(body, 4096);
    let lines_read = chunk.lines_read;
    let mut normalizing = normalizer(strict).lock().unwrap_or_else(|p| p.into_inner());
    let counts = normalizing.normalize(chunk).expect("normalizing never fails on input");
    let rejected: u64 = counts.rejected_by_reason.values().sum();
    assert_eq!(counts.lines_read, lines_read);
    assert_eq!(counts.accepted + rejected + counts.blank, lines_read, "the account balances");
});
