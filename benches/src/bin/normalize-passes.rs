//! Normalizes the mixed-producer corpus a given number of times and prints
//! lines and bytes. A fixed workload for instruction-count profiling, which
//! is repeatable on a noisy machine where wall time is not:
//!
//! `valgrind --tool=callgrind target/release/normalize-passes 1`

use sluice_benches::mixed_producer_lines;
use sluice_schemas::{LineBuffer, Normalizer, Timestamp};

/// The same allocator as the `sluice-ingest` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let passes: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let lines = match mixed_producer_lines(1 << 20) {
        Ok(lines) => lines,
        Err(error) => {
            eprintln!("error: cannot read fixtures/producers: {error}");
            std::process::exit(2);
        }
    };
    let mut normalizer = Normalizer::with_default_schema();
    let mut buffer = LineBuffer::new();
    let observed = Timestamp::now();
    let (mut accepted, mut bytes) = (0usize, 0usize);
    for _ in 0..passes {
        for line in &lines {
            buffer.fill(line);
            bytes += line.len() + 1;
            if normalizer.normalize_buffer(&mut buffer, observed).is_ok() {
                accepted += 1;
            }
        }
    }
    println!("{accepted} lines accepted, {bytes} bytes");
}
