//! The "tantivy alone" baselines of the end-to-end benchmark: the records
//! of a corpus indexed with tantivy and nothing else, in two ways.
//!
//! Untimed in both: every line is normalized and turned into the very
//! document Sluice indexes (same schema, same fields), in the corpus's
//! order, as a plain indexer would (Sluice adds a batch's documents grouped
//! by `GroupKey`, which makes its index smaller).
//!
//! Timed, by default (`add-only`): adding the prebuilt documents to a fresh
//! index with N threads and the same memory budget as `sluice-ingest`,
//! committing, and waiting for merges: tantivy's own cost and nothing else.
//!
//! Timed with `--parse-json` (`tantivy-cli`): what `tantivy-cli index`
//! does with a file of already-normalized records, one JSON document per
//! line: read each line, parse it into a document of the schema, add it;
//! then commit and wait for merges. The normalized records are written to
//! `INDEX_DIR.docs.ndjson` first, untimed.
//!
//! `tantivy-baseline [--parse-json] CORPUS INDEX_DIR [THREADS]` prints one
//! JSON object.

use std::io::{BufRead, Write};
use std::time::Instant;

use sluice_index::fields::IndexFields;
use sluice_schemas::{LineBuffer, Normalizer, Schema, Timestamp};
use tantivy::schema::document::Document;
use tantivy::{Index, IndexWriter, TantivyDocument};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let parse_json = args.first().is_some_and(|a| a == "--parse-json");
    if parse_json {
        args.remove(0);
    }
    if args.len() < 2 {
        eprintln!("usage: tantivy-baseline [--parse-json] CORPUS INDEX_DIR [THREADS]");
        std::process::exit(2);
    }
    let (corpus, index_dir) = (&args[0], &args[1]);
    let threads: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(2);
    let fields = IndexFields::new(&Schema::builtin());
    let (documents, raw_bytes) = normalized_documents(&fields, corpus);
    let count = documents.len();
    std::fs::create_dir_all(index_dir).unwrap_or_else(|e| fail(&e.to_string()));
    let index =
        Index::create_in_dir(index_dir, fields.schema.clone()).unwrap_or_else(|e| fail(&format!("{index_dir}: {e}")));
    let docs_path = format!("{}.docs.ndjson", index_dir.trim_end_matches('/'));
    // Prebuilt documents, or none when they are read back from JSON.
    let prebuilt = if parse_json {
        write_documents(&fields, documents, &docs_path);
        None
    } else {
        Some(documents)
    };
    let started = Instant::now();
    let cpu_started = process_cpu_seconds();
    let mut writer: IndexWriter<TantivyDocument> =
        index.writer_with_num_threads(threads, 96 << 20).unwrap_or_else(|e| fail(&e.to_string()));
    if let Some(documents) = prebuilt {
        for document in documents {
            writer.add_document(document).unwrap_or_else(|e| fail(&e.to_string()));
        }
    } else {
        let file = std::fs::File::open(&docs_path).unwrap_or_else(|e| fail(&format!("{docs_path}: {e}")));
        for line in std::io::BufReader::new(file).lines() {
            let line = line.unwrap_or_else(|e| fail(&e.to_string()));
            let document = TantivyDocument::parse_json(&fields.schema, &line)
                .unwrap_or_else(|e| fail(&format!("{docs_path}: {e}")));
            writer.add_document(document).unwrap_or_else(|e| fail(&e.to_string()));
        }
    }
    writer.commit().unwrap_or_else(|e| fail(&e.to_string()));
    writer.wait_merging_threads().unwrap_or_else(|e| fail(&e.to_string()));
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = process_cpu_seconds().zip(cpu_started).map(|(end, start)| end - start);
    if parse_json {
        let _ = std::fs::remove_file(&docs_path);
    }
    println!(
        "{}",
        serde_json::json!({
            "mode": if parse_json { "tantivy-cli" } else { "add-only" },
            "documents": count,
            "raw_bytes": raw_bytes,
            "threads": threads,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "raw_mb_per_s": raw_bytes as f64 / 1e6 / seconds,
        })
    );
}

/// User + system CPU time of this process so far, all threads, from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s, the
/// `USER_HZ` Linux reports to user space); `None` off Linux. Timing the CPU
/// as well as the wall clock gives a comparison that a busy neighbour on
/// this shared machine disturbs less.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields restart after its ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let user: f64 = fields.nth(11)?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// Every accepted line of `corpus` as the document Sluice would index, and
/// the corpus's size in bytes.
fn normalized_documents(fields: &IndexFields, corpus: &str) -> (Vec<TantivyDocument>, u64) {
    let mut normalizer = Normalizer::with_default_schema();
    let mut buffer = LineBuffer::new();
    let observed = Timestamp::now();
    let file = std::fs::File::open(corpus).unwrap_or_else(|e| fail(&format!("{corpus}: {e}")));
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
    (documents, raw_bytes)
}

/// The documents as NDJSON, the input `tantivy-cli index` takes.
fn write_documents(fields: &IndexFields, documents: Vec<TantivyDocument>, path: &str) {
    let file = std::fs::File::create(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    let mut out = std::io::BufWriter::new(file);
    for document in documents {
        writeln!(out, "{}", document.to_json(&fields.schema)).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    }
    out.flush().unwrap_or_else(|e| fail(&format!("{path}: {e}")));
}

fn fail(message: &str) -> ! {
    eprintln!("tantivy-baseline: {message}");
    std::process::exit(1);
}
