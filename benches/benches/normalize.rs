//! Parse + normalize throughput on one core over a mixed-producer corpus
//! built from `fixtures/producers/`, against two baselines measured in the
//! same run on the same bytes:
//!
//! * `simd_json_tape`: simd-json filling its tape and nothing else (the
//!   floor: Sluice's parse step alone);
//! * `serde_json_value`: `serde_json::from_slice` into a `Value`, what a
//!   straightforward Rust log tool would do to parse each line.
//!
//! Run: `cargo bench -p sluice-benches --bench normalize`.
//! Each iteration copies every line into a reused buffer first, as the
//! pipeline must (simd-json unescapes in place; rejects are written raw).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice_benches::mixed_producer_lines;
use sluice_schemas::{LineBuffer, Normalizer, Timestamp};

/// The same allocator as the `sluice-ingest` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CORPUS_BYTES: usize = 4 << 20;

fn bench(c: &mut Criterion) {
    let lines = mixed_producer_lines(CORPUS_BYTES).expect("fixtures/producers must be readable");
    let total_bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut group = c.benchmark_group("mixed_producers");
    group.throughput(Throughput::Bytes(total_bytes as u64));
    // Long windows and many samples: the median must hold on a noisy VM.
    group.sample_size(40);
    group.measurement_time(std::time::Duration::from_secs(12));

    let observed = Timestamp::now();
    let mut normalizer = Normalizer::with_default_schema();
    let mut scratch = Vec::with_capacity(64 * 1024);
    let mut buffer = LineBuffer::new();
    group.bench_function("parse_and_normalize", |b| {
        b.iter(|| {
            let mut accepted = 0usize;
            for line in &lines {
                buffer.fill(line);
                if let Ok(record) = normalizer.normalize_buffer(&mut buffer, observed) {
                    accepted += 1;
                    black_box(&record);
                }
            }
            assert_eq!(accepted, lines.len());
        })
    });

    let mut buffers = simd_json::Buffers::new(64 * 1024);
    let mut tape = Some(simd_json::Tape::null());
    group.bench_function("simd_json_tape", |b| {
        b.iter(|| {
            for line in &lines {
                scratch.clear();
                scratch.extend_from_slice(line);
                let mut t = tape.take().unwrap_or_else(simd_json::Tape::null).reset();
                simd_json::fill_tape(&mut scratch, &mut buffers, &mut t).expect("fixtures are valid JSON");
                black_box(&t);
                tape = Some(t.reset());
            }
        })
    });

    group.bench_function("serde_json_value", |b| {
        b.iter(|| {
            for line in &lines {
                let value: serde_json::Value = serde_json::from_slice(line).expect("fixtures are valid JSON");
                black_box(value);
            }
        })
    });
    group.finish();

    // Per producer, to see which shapes cost most (one fixture file each).
    let mut by_producer = c.benchmark_group("by_producer");
    by_producer.sample_size(10);
    let dir = sluice_benches::fixtures_dir().join("producers");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("fixtures").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let text = std::fs::read(&path).expect("fixture");
        let one: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let repeat = (1 << 20) / text.len().max(1);
        by_producer.throughput(Throughput::Bytes((text.len() * repeat) as u64));
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        by_producer.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..repeat {
                    for line in &one {
                        buffer.fill(line);
                        black_box(normalizer.normalize_buffer(&mut buffer, observed).is_ok());
                    }
                }
            })
        });
    }
    by_producer.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
