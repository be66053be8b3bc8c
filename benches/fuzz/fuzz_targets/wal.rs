//! Write-ahead log decoding, at both levels: the input as an entry's
//! payload, and the input as a whole segment file read at startup. After
//! the read, the log opens for appending (a torn tail cut off) and an entry
//! appended then reads back intact after whatever the segment held.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::check_chunk;
use sluice_index::storage::Storage;
use sluice_index::wal::{WalItem, WalReader};
use sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES;
use sluice_ingest::serve::fuzzing::{ndjson, wal_encode, wal_payload};

fn wal_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = tempfile::Builder::new().prefix("sluice-fuzz-").tempdir().expect("a temporary directory").keep();
        root.join("wal")
    })
}

fn entries(dir: &Path) -> Vec<(Vec<u8>, u64)> {
    let reader = WalReader::open(dir, Storage::local(), 0).expect("the log opens");
    let mut entries = Vec::new();
    for item in reader {
        if let WalItem::Entry { payload, end } = item.expect("reading a segment fails only on I/O") {
            entries.push((payload, end));
        }
    }
    entries
}

fuzz_target!(|data: &[u8]| {
    if let Some(chunk) = wal_payload(data) {
        check_chunk(&chunk, usize::MAX);
        // What decodes encodes back to a payload that decodes the same.
        let again = wal_payload(&wal_encode(&chunk)[8..]).expect("an encoded entry decodes");
        assert_eq!(again.lines.len(), chunk.lines.len());
        assert_eq!(again.lines_read, chunk.lines_read);
    }

    let dir = wal_dir();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("the log directory is made");
    std::fs::write(dir.join(format!("{:020}.wal", 0)), data).expect("the segment is written");
    let before = entries(dir);
    for (payload, _) in &before {
        let _ = wal_payload(payload);
    }
    let mut reader = WalReader::open(dir, Storage::local(), 0).expect("the log opens");
    for item in reader.by_ref() {
        item.expect("reading a segment fails only on I/O");
    }
    let mut wal = reader.into_writer(0, 1 << 30).expect("the log opens for appending");
    let marker = ndjson(b"{\"message\":\"appended after recovery\"}\n", DEFAULT_MAX_LINE_BYTES);
    wal.append_durably(&wal_encode(&marker)).expect("an entry is appended");
    let after = entries(dir);
    let (payload, end) = after.last().expect("the appended entry is read back");
    assert_eq!(*end, wal.position());
    let read_back = wal_payload(payload).expect("the appended entry decodes");
    assert_eq!(&read_back.data, &marker.data, "the appended entry reads back intact");
});
