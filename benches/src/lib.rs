//! Inputs for Sluice's benchmarks.
//!
//! The criterion benches in `benches/` measure one stage on one core; the
//! end-to-end scripts (from the ingest pipeline on) run the binaries on
//! generated corpora. Inputs come from the project's own `fixtures/` so a
//! fresh clone can run every benchmark.

pub mod corpus;

use std::path::{Path, PathBuf};

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every line of every producer fixture, interleaved round-robin across
/// files so consecutive lines come from different producers (the worst case
/// for detection), repeated until the corpus holds at least `min_bytes`.
pub fn mixed_producer_lines(min_bytes: usize) -> std::io::Result<Vec<Vec<u8>>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join("producers"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    let per_file: Vec<Vec<Vec<u8>>> = files
        .iter()
        .map(|path| {
            let text = std::fs::read(path)?;
            Ok(text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect())
        })
        .collect::<std::io::Result<_>>()?;
    let longest = per_file.iter().map(Vec::len).max().unwrap_or(0);
    let mut round: Vec<Vec<u8>> = Vec::new();
    for i in 0..longest {
        for lines in &per_file {
            if let Some(line) = lines.get(i) {
                round.push(line.clone());
            }
        }
    }
    if round.is_empty() {
        return Ok(round);
    }
    let mut corpus = Vec::new();
    let mut bytes = 0;
    while bytes < min_bytes {
        for line in &round {
            bytes += line.len() + 1;
            corpus.push(line.clone());
        }
    }
    Ok(corpus)
}
