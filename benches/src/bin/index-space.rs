//! Where an index's bytes go: per component (terms, postings, positions,
//! fast fields, …) and per field, summed over every split and segment of
//! a data directory. For tuning what the index keeps.
//!
//! `index-space DIR` prints one line per (component, field), largest first.

use std::collections::BTreeMap;
use std::io::Write;

use tantivy::Index;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: index-space DATA_DIR");
        std::process::exit(2);
    };
    let splits = sluice_index::splits::list_splits(&std::path::Path::new(&dir).join("index")).unwrap_or_else(|e| {
        eprintln!("index-space: {e}");
        std::process::exit(1);
    });
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut segments = 0;
    for (_, path) in splits {
        let index = Index::open_in_dir(&path).expect("open split");
        let searcher = index.reader().expect("reader").searcher();
        let usage = searcher.space_usage().expect("space usage");
        for segment in usage.segments() {
            segments += 1;
            let components = [
                ("termdict", segment.termdict()),
                ("postings", segment.postings()),
                ("positions", segment.positions()),
                ("fast_fields", segment.fast_fields()),
                ("fieldnorms", segment.fieldnorms()),
            ];
            for (component, per_field) in components {
                for field in per_field.fields() {
                    *totals.entry((component.to_owned(), field.field_name().to_owned())).or_default() +=
                        field.total().get_bytes();
                }
            }
            let store = segment.store();
            *totals.entry(("store".to_owned(), "data".to_owned())).or_default() += store.data_usage().get_bytes();
            *totals.entry(("store".to_owned(), "offsets".to_owned())).or_default() += store.offsets_usage().get_bytes();
        }
    }
    let mut rows: Vec<_> = totals.into_iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    let all: u64 = rows.iter().map(|(_, bytes)| bytes).sum();
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) ends the listing quietly.
    let _ = writeln!(out, "{segments} segments, {all} bytes");
    for ((component, field), bytes) in rows {
        if writeln!(out, "{:>12} {:>5.1}%  {component:<12} {field}", bytes, bytes as f64 * 100.0 / all as f64).is_err()
        {
            break;
        }
    }
}
