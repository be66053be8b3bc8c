//! The "tantivy alone" baseline of the end-to-end benchmark: indexes the
//! records of a corpus with tantivy and nothing else.
//!
//! Untimed: every line is normalized and turned into the very document
//! Sluice indexes (same schema, same fields), in the corpus's order, as a
//! plain indexer would (Sluice adds a batch's documents grouped by
//! `GroupKey`, which makes its index smaller). Timed: adding the documents
//! to a fresh index with N threads and the same memory budget as
//! `sluice-ingest`, committing, and waiting for merges. What remains for
//! Sluice beyond this is reading, parsing, normalizing, sorting and the
//! Parquet archive.
//!
//! `tantivy-baseline CORPUS INDEX_DIR [THREADS]` prints one JSON object.

use std::io::BufRead;
use std::time::Instant;

use sluice_index::fields::IndexFields;
use sluice_schemas::{LineBuffer, Normalizer, Schema, Timestamp};
use tantivy::{Index, IndexWriter, TantivyDocument};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: tantivy-baseline CORPUS INDEX_DIR [THREADS]");
        std::process::exit(2);
    }
    let threads: usize = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(2);
    let fields = IndexFields::new(&Schema::builtin());
    let mut normalizer = Normalizer::with_default_schema();
    let mut buffer = LineBuffer::new();
    let observed = Timestamp::now();
    let file = std::fs::File::open(&args[1]).unwrap_or_else(|e| fail(&format!("{}: {e}", args[1])));
    let mut documents: Vec<TantivyDocument> = Vec::new();
    let mut raw_bytes = 0u64;
    for (row, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.unwrap_or_else(|e| fail(&e.to_string()));
        raw_bytes += line.len() as u64 + 1;
        buffer.fill(&line);
        if let Ok(record) = normalizer.normalize_buffer(&mut buffer, observed) {
            documents.push(fields.document(&record, 1, row as u64));
        }
    }
    let count = documents.len();
    std::fs::create_dir_all(&args[2]).unwrap_or_else(|e| fail(&e.to_string()));
    let index =
        Index::create_in_dir(&args[2], fields.schema.clone()).unwrap_or_else(|e| fail(&format!("{}: {e}", args[2])));
    let started = Instant::now();
    let mut writer: IndexWriter<TantivyDocument> =
        index.writer_with_num_threads(threads, 96 << 20).unwrap_or_else(|e| fail(&e.to_string()));
    for document in documents {
        writer.add_document(document).unwrap_or_else(|e| fail(&e.to_string()));
    }
    writer.commit().unwrap_or_else(|e| fail(&e.to_string()));
    writer.wait_merging_threads().unwrap_or_else(|e| fail(&e.to_string()));
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "documents": count,
            "raw_bytes": raw_bytes,
            "threads": threads,
            "seconds": seconds,
            "raw_mb_per_s": raw_bytes as f64 / 1e6 / seconds,
        })
    );
}

fn fail(message: &str) -> ! {
    eprintln!("tantivy-baseline: {message}");
    std::process::exit(1);
}
