//! What the fuzz targets share: the checks every decoded chunk must pass,
//! and a small data directory for the query-side targets.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sluice_ingest::pipeline::IngestConfig;
use sluice_ingest::serve::fuzzing::Chunk;
use sluice_ingest::source::Input;
use sluice_query::store::Store;
use sluice_query::time::TimeRange;

/// Checks what every decoder promises about the chunk it returns: each line
/// read is counted once (kept or blank), each kept line's bytes lie in the
/// chunk and within the line limit, and numbers only grow.
pub fn check_chunk(chunk: &Chunk, max_line_bytes: usize) {
    assert_eq!(chunk.lines.len() as u64 + chunk.blank, chunk.lines_read, "every line read is kept or blank");
    let mut last = 0;
    for line in &chunk.lines {
        assert!(line.start <= line.end && line.end <= chunk.data.len(), "a line's bytes lie in the chunk");
        assert!(line.end - line.start <= max_line_bytes, "a line is cut at the limit");
        if let Some(length) = line.too_long {
            // Framing cuts at the limit; a logged line was cut at whatever
            // limit its writer had (`max_line_bytes` is then usize::MAX, and
            // the line is only known to be longer than what was kept).
            let limit = if max_line_bytes == usize::MAX { line.end - line.start } else { max_line_bytes };
            assert!(length as usize > limit, "only a line over the limit is too long");
        }
        assert!(line.number >= last, "line numbers do not go back");
        last = line.number;
    }
}

/// Log lines from several producers (the fixtures the tests use), the
/// data the query-side targets search.
pub const SAMPLE_LINES: &[&str] = &[
    include_str!("../../../fixtures/producers/pino.ndjson"),
    include_str!("../../../fixtures/producers/zap.ndjson"),
    include_str!("../../../fixtures/producers/opentelemetry.ndjson"),
    include_str!("../../../fixtures/producers/zeek.ndjson"),
    include_str!("../../../fixtures/producers/ecs.ndjson"),
    include_str!("../../../fixtures/producers/logrus.ndjson"),
];

/// A data directory holding [`SAMPLE_LINES`], made once per process (in
/// a temporary directory removed at exit only by the OS's cleaning: the
/// fuzzer never returns normally).
pub fn sample_data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = tempfile::Builder::new().prefix("sluice-fuzz-").tempdir().expect("a temporary directory").keep();
        let input = root.join("sample.ndjson");
        std::fs::write(&input, SAMPLE_LINES.concat()).expect("the sample input is written");
        let data = root.join("data");
        let mut config = IngestConfig::new(data.clone(), vec![Input::File(input)]);
        config.workers = 1;
        config.index_threads = 1;
        config.command = "fuzz".into();
        let summary = sluice_ingest::pipeline::ingest(&config).expect("the sample is ingested");
        assert!(summary.accepted > 0, "the sample has records");
        data
    })
}

/// The sample data directory, opened for queries.
pub fn sample_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| Store::open(sample_data_dir(), TimeRange::ALL).expect("the sample store opens"))
}

/// The input as text, or nothing: the query side takes `&str`, as its
/// command line does.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
