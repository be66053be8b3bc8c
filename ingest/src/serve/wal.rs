//! The server's write-ahead log: what a 2xx promised, on disk before the
//! answer, until the index and archive hold it. The files, their framing
//! and their damage are `sluice_index::wal`'s; this module encodes each
//! request's lines (the [`Chunk`] the pipeline normalizes) as one entry's
//! payload, and replays the log at startup.
//!
//! The manifest's checkpoint [`CHECKPOINT_KEY`] is the position up to which
//! entries are committed to the index and archive; it moves in the same
//! atomic manifest write as the batch that holds them. At startup,
//! [`replay`] hands back every entry after it, to be ingested again; a torn
//! last entry (one whose fsync never finished, so no client was told it was
//! kept) is cut off with a warning; damage with whole entries after it is
//! handled as `--wal-damage` says ([`DamagePolicy`]).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use sluice_index::data_dir::DataDir;
use sluice_index::wal::{Damage, PAYLOAD_FORMAT, Wal, WalItem, WalReader, frame};
use sluice_schemas::{Producer, Timestamp};

use crate::error::IngestError;
use crate::pipeline::{Chunk, ChunkLine};

/// The manifest checkpoint that says how far the log is committed.
pub const CHECKPOINT_KEY: &str = "<write-ahead log>";

/// Marks an absent string (`service`) or number (`too_long`).
const NONE_U32: u32 = u32::MAX;
const NONE_U64: u64 = u64::MAX;

/// What to do at startup with log damage that has whole entries after it
/// (acknowledged lines were lost there). The entries before it are
/// replayed either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DamagePolicy {
    /// Keep a copy of the damaged bytes in `DIR/wal/damaged/`, report them,
    /// replay the entries after them and start: the log pipeline keeps
    /// running, as Loki's and Prometheus' write-ahead logs do.
    #[default]
    Skip,
    /// Replay the entries before the damage, then stop with exit 3 and what
    /// to do, for operators who want to look before anything moves on.
    Refuse,
}

/// Log damage the server refused to start past (`--wal-damage refuse`).
#[derive(Debug, thiserror::Error)]
#[error(
    "write-ahead log segment {} is damaged at byte {} ({}; {} bytes up to the next whole entry): the lines \
     acknowledged there cannot be recovered. The entries before it are committed. Start again with \
     --wal-damage skip to keep a copy of the damaged bytes in {} and replay the entries after them",
    damage.segment.display(), damage.offset, damage.what, damage.bytes, damaged_dir.display()
)]
pub struct WalDamaged {
    pub damage: Damage,
    pub damaged_dir: PathBuf,
}

/// What [`replay`] found besides the entries it replayed.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub entries: u64,
    /// Damaged stretches skipped, and where each one's bytes were kept.
    pub damaged: Vec<(Damage, PathBuf)>,
    pub torn_tail_bytes: u64,
}

/// Replays the log in `DIR/wal` after position `committed`: each whole
/// entry's chunk goes to `replay` with the position after it. Returns the
/// log open for appending. Warnings name the file, the offset and the bytes
/// concerned.
pub fn replay(
    dir: &DataDir,
    committed: u64,
    segment_limit: u64,
    policy: DamagePolicy,
    mut replay: impl FnMut(Chunk, u64) -> Result<(), IngestError>,
) -> Result<(Wal, ReplayReport), IngestError> {
    let mut reader = WalReader::open(&dir.wal(), *dir.storage(), committed)?;
    let mut report = ReplayReport::default();
    while let Some(item) = reader.next() {
        match item? {
            WalItem::Entry { payload, end } => {
                let chunk = decode_entry(&payload, end)?;
                report.entries += 1;
                replay(chunk, end)?;
            }
            WalItem::TornTail { segment, offset, bytes } => {
                eprintln!(
                    "sluice-ingest: warning: write-ahead log segment {}: cut off a torn last entry at byte {offset} \
                     ({bytes} bytes dropped): a write that never completed, so no client was told it was kept",
                    segment.display()
                );
                report.torn_tail_bytes += bytes;
            }
            WalItem::Damaged(damage) => {
                if policy == DamagePolicy::Refuse {
                    return Err(WalDamaged { damage, damaged_dir: dir.wal_damaged() }.into());
                }
                let kept = reader.keep_damaged(&damage)?;
                eprintln!(
                    "sluice-ingest: error: write-ahead log segment {} is damaged at byte {} ({}; {} bytes up to the \
                     next whole entry): the lines acknowledged there cannot be recovered. The damaged bytes are \
                     kept in {}; the entries after them are replayed (--wal-damage skip)",
                    damage.segment.display(),
                    damage.offset,
                    damage.what,
                    damage.bytes,
                    kept.display()
                );
                report.damaged.push((damage, kept));
            }
        }
    }
    let wal = reader.into_writer(committed, segment_limit)?;
    Ok((wal, report))
}

/// Appends `chunk` to `out` as one log entry.
pub fn encode_entry(chunk: &Chunk, out: &mut Vec<u8>) {
    frame(out, |out| encode_payload(chunk, out));
}

fn encode_payload(chunk: &Chunk, out: &mut Vec<u8>) {
    out.push(PAYLOAD_FORMAT);
    out.extend_from_slice(&chunk.observed.as_nanos().to_le_bytes());
    for n in [chunk.bytes, chunk.lines_read, chunk.blank] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    put_str(out, Some(&chunk.source));
    put_str(out, chunk.service.as_deref());
    put_str(out, chunk.producer.map(Producer::as_str));
    out.extend_from_slice(&(chunk.lines.len() as u32).to_le_bytes());
    for line in &chunk.lines {
        out.extend_from_slice(&line.number.to_le_bytes());
        out.extend_from_slice(&line.too_long.unwrap_or(NONE_U64).to_le_bytes());
        put_bytes(out, &chunk.data[line.start..line.end]);
    }
}

/// The least a line takes in a payload: its number, its `too_long` and its
/// length.
const LINE_HEADER_BYTES: usize = 8 + 8 + 4;

fn put_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => put_bytes(out, text.as_bytes()),
        None => out.extend_from_slice(&NONE_U32.to_le_bytes()),
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The chunk of a whole entry (ending at log position `end`) read back.
pub(crate) fn decode_entry(payload: &[u8], end: u64) -> Result<Chunk, IngestError> {
    decode_payload(payload).ok_or_else(|| {
        IngestError::Internal(format!(
            "write-ahead log entry ending at position {end} has a valid checksum but does not decode"
        ))
    })
}

fn decode_payload(payload: &[u8]) -> Option<Chunk> {
    let mut reader = payload;
    let mut version = [0u8];
    reader.read_exact(&mut version).ok()?;
    if version[0] != PAYLOAD_FORMAT {
        return None;
    }
    let observed = Timestamp::from_nanos(i64::from_le_bytes(take(&mut reader)?));
    let bytes = u64::from_le_bytes(take(&mut reader)?);
    let lines_read = u64::from_le_bytes(take(&mut reader)?);
    let blank = u64::from_le_bytes(take(&mut reader)?);
    let source: Arc<str> = Arc::from(take_str(&mut reader)??);
    let service = take_str(&mut reader)?.map(Arc::from);
    let producer = match take_str(&mut reader)? {
        Some(name) => Some(Producer::from_name(name)?),
        None => None,
    };
    let count = u32::from_le_bytes(take(&mut reader)?) as usize;
    let mut chunk = Chunk::new(&source);
    chunk.data = Vec::with_capacity(payload.len());
    // The count is data: reserve no more lines than the rest could hold, or
    // a damaged count would ask for up to 160 GB before the loop found out.
    chunk.lines = Vec::with_capacity(count.min(reader.len() / LINE_HEADER_BYTES));
    let mut last_number = 0;
    for _ in 0..count {
        let number = u64::from_le_bytes(take(&mut reader)?);
        let too_long = u64::from_le_bytes(take(&mut reader)?);
        let line = take_bytes(&mut reader)?;
        let too_long = (too_long != NONE_U64).then_some(too_long);
        // What the framing wrote: line numbers in order, and a line cut at
        // the limit longer than what was kept of it.
        if number < last_number || too_long.is_some_and(|length| length <= line.len() as u64) {
            return None;
        }
        last_number = number;
        let start = chunk.data.len();
        chunk.data.extend_from_slice(line);
        chunk.lines.push(ChunkLine { number, start, end: chunk.data.len(), too_long });
    }
    // The account must balance: every line read is kept or blank.
    if !reader.is_empty() || chunk.lines.len() as u64 + blank != lines_read {
        return None;
    }
    chunk.observed = observed;
    chunk.bytes = bytes;
    chunk.lines_read = lines_read;
    chunk.blank = blank;
    chunk.service = service;
    chunk.producer = producer;
    Some(chunk)
}

fn take<const N: usize>(reader: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = reader.split_first_chunk::<N>()?;
    *reader = rest;
    Some(*head)
}

fn take_bytes<'a>(reader: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(take(reader)?) as usize;
    let (bytes, rest) = reader.split_at_checked(len)?;
    *reader = rest;
    Some(bytes)
}

/// `None` when the entry is damaged, `Some(None)` for an absent string.
fn take_str<'a>(reader: &mut &'a [u8]) -> Option<Option<&'a str>> {
    let (head, _) = reader.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*head) == NONE_U32 {
        *reader = &reader[4..];
        return Some(None);
    }
    std::str::from_utf8(take_bytes(reader)?).ok().map(Some)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use sluice_index::data_dir::DataDir;
    use sluice_index::wal::GROUP_END_BYTES as G;

    use super::*;

    fn chunk(source: &str, lines: &[&str]) -> Chunk {
        let mut chunk = Chunk::new(&Arc::from(source));
        for (i, line) in lines.iter().enumerate() {
            let start = chunk.data.len();
            chunk.data.extend_from_slice(line.as_bytes());
            chunk.lines.push(ChunkLine { number: i as u64 + 1, start, end: chunk.data.len(), too_long: None });
        }
        chunk.lines_read = lines.len() as u64 + 1;
        chunk.blank = 1;
        chunk.bytes = chunk.data.len() as u64 + 7;
        chunk.observed = Timestamp::from_nanos(1_700_000_000_123_456_789);
        chunk
    }

    fn lines(chunk: &Chunk) -> Vec<String> {
        chunk.lines.iter().map(|l| String::from_utf8_lossy(&chunk.data[l.start..l.end]).into_owned()).collect()
    }

    type Seen = Vec<(Vec<String>, u64)>;

    fn replayed(dir: &DataDir, committed: u64, limit: u64, policy: DamagePolicy) -> (Wal, Seen, ReplayReport) {
        let mut seen = Vec::new();
        let (wal, report) = replay(dir, committed, limit, policy, |chunk, end| {
            seen.push((lines(&chunk), end));
            Ok(())
        })
        .unwrap();
        (wal, seen, report)
    }

    fn entry(source: &str, text: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode_entry(&chunk(source, &[text]), &mut bytes);
        bytes
    }

    fn segment(dir: &DataDir, start: u64) -> PathBuf {
        dir.wal().join(format!("{start:020}.wal"))
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn an_entry_round_trips_every_field() {
        let mut original = chunk("http 127.0.0.1:1 /api/v1/ingest", &[r#"{"a":1}"#, "not json"]);
        original.service = Some(Arc::from("checkout"));
        original.producer = Some(Producer::Pino);
        original.lines[1].too_long = Some(5_000_000);
        let mut payload = Vec::new();
        encode_payload(&original, &mut payload);
        let chunk = decode_payload(&payload).unwrap();
        assert_eq!(&*chunk.source, "http 127.0.0.1:1 /api/v1/ingest");
        assert_eq!(chunk.service.as_deref(), Some("checkout"));
        assert_eq!(chunk.producer, Some(Producer::Pino));
        assert_eq!(chunk.observed, original.observed);
        assert_eq!((chunk.bytes, chunk.lines_read, chunk.blank), (original.bytes, 3, 1));
        assert_eq!(lines(&chunk), [r#"{"a":1}"#, "not json"]);
        assert_eq!(
            chunk.lines.iter().map(|l| (l.number, l.too_long)).collect::<Vec<_>>(),
            [(1, None), (2, Some(5_000_000))]
        );
        // Anything after the last line is damage, not a longer entry.
        payload.push(0);
        assert!(decode_payload(&payload).is_none());
    }

    #[test]
    fn an_entry_whose_account_does_not_balance_is_damage() {
        // Found by the `wal` fuzz target: 2 lines kept and 0 blank of
        // 281474976645122 read decoded, and would have unbalanced the
        // run's account (accepted + rejected + blank = lines read).
        let original = chunk("stdin", &[r#"{"a":1}"#, "not json"]);
        let encode = |chunk: &Chunk| {
            let mut payload = Vec::new();
            encode_payload(chunk, &mut payload);
            payload
        };
        assert!(decode_payload(&encode(&original)).is_some());
        let mut unbalanced = chunk("stdin", &[r#"{"a":1}"#, "not json"]);
        unbalanced.lines_read = 281_474_976_645_122;
        assert!(decode_payload(&encode(&unbalanced)).is_none());
        let mut backwards = chunk("stdin", &[r#"{"a":1}"#, "not json"]);
        backwards.lines[1].number = 0;
        assert!(decode_payload(&encode(&backwards)).is_none());
        // A cut line is longer than what was kept of it.
        let mut short = chunk("stdin", &[r#"{"a":1}"#, "not json"]);
        short.lines[0].too_long = Some(7);
        assert!(decode_payload(&encode(&short)).is_none());
        short.lines[0].too_long = Some(8);
        assert!(decode_payload(&encode(&short)).is_some());
    }

    #[test]
    fn a_line_count_larger_than_the_entry_is_damage_not_an_allocation() {
        // Found by the `wal` fuzz target: a count of 2^32 - 1 lines reserved
        // 160 GB and aborted the process before the first line was read.
        let original = chunk("stdin", &[r#"{"a":1}"#]);
        let mut payload = Vec::new();
        encode_payload(&original, &mut payload);
        let count_at = payload.len() - (LINE_HEADER_BYTES + 7) - 4;
        assert_eq!(payload[count_at..count_at + 4], 1u32.to_le_bytes());
        payload[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_payload(&payload).is_none());
    }

    #[test]
    fn reopening_replays_what_is_after_the_checkpoint_and_cuts_a_torn_tail() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        let (mut wal, seen, _) = replayed(&dir, 0, 1 << 20, DamagePolicy::Skip);
        assert!(seen.is_empty());
        let first = entry("a", "one");
        let after_first = wal.append_durably(&first).unwrap();
        let second = entry("b", "two");
        let after_second = wal.append_durably(&second).unwrap();
        // Each append is a group: its entries, then a group end.
        assert_eq!(after_second, (first.len() + second.len()) as u64 + 2 * G);
        drop(wal);

        let (_, seen, _) = replayed(&dir, 0, 1 << 20, DamagePolicy::Skip);
        // The last entry of a group ends after its group end.
        assert_eq!(seen, [(strings(&["one"]), after_first), (strings(&["two"]), after_second)]);
        let (_, seen, _) = replayed(&dir, after_first, 1 << 20, DamagePolicy::Skip);
        assert_eq!(seen, [(strings(&["two"]), after_second)]);

        // A crash in the middle of writing a third entry: torn, never acknowledged.
        let third = entry("c", "three");
        let path = segment(&dir, 0);
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&third[..third.len() - 3]).unwrap();
        drop(file);
        let (mut wal, seen, report) = replayed(&dir, after_second, 1 << 20, DamagePolicy::Skip);
        assert!(seen.is_empty());
        assert_eq!(report.torn_tail_bytes, third.len() as u64 - 3);
        assert!(report.damaged.is_empty());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), after_second);
        assert_eq!(wal.append_durably(&third).unwrap(), after_second + third.len() as u64 + G);
        let (_, seen, _) = replayed(&dir, after_second, 1 << 20, DamagePolicy::Skip);
        assert_eq!(seen, [(strings(&["three"]), after_second + third.len() as u64 + G)]);
    }

    /// A group whose write never finished (no group end) is a torn tail
    /// even when the disk wrote a later entry of it whole: none of it was
    /// acknowledged.
    #[test]
    fn damage_in_an_unfinished_last_group_is_a_torn_tail() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        let (mut wal, _, _) = replayed(&dir, 0, 1 << 20, DamagePolicy::Skip);
        let after_first = wal.append_durably(&entry("a", "one")).unwrap();
        drop(wal);
        // The next group: two entries, the first with a hole, the second whole, no group end.
        let (second, third) = (entry("b", "two"), entry("c", "three"));
        let mut hole = second.clone();
        hole[10] ^= 0xff;
        let path = segment(&dir, 0);
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[&hole[..], &third[..]].concat()).unwrap();
        drop(file);
        let (wal, seen, report) = replayed(&dir, after_first, 1 << 20, DamagePolicy::Refuse);
        assert!(seen.is_empty(), "{seen:?}");
        assert!(report.damaged.is_empty());
        assert_eq!(report.torn_tail_bytes, (second.len() + third.len()) as u64);
        assert_eq!(wal.position(), after_first);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), after_first);
    }

    /// A damaged entry in the middle of the active segment, with whole
    /// entries after it: the entries after it are replayed, exactly once,
    /// and the damaged bytes are kept aside, not cut off with the tail.
    #[test]
    fn damage_in_the_active_segment_replays_every_whole_entry_after_it() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        let (mut wal, _, _) = replayed(&dir, 0, 1 << 20, DamagePolicy::Skip);
        let entries: Vec<Vec<u8>> = (0..4).map(|i| entry("s", &format!("line {i}"))).collect();
        let ends: Vec<u64> = entries.iter().map(|e| wal.append_durably(e).unwrap()).collect();
        drop(wal);
        let path = segment(&dir, 0);
        let mut bytes = std::fs::read(&path).unwrap();
        let damaged_at = ends[0] as usize;
        bytes[damaged_at + 12] ^= 0xff; // inside the second entry's payload
        std::fs::write(&path, &bytes).unwrap();

        let (mut wal, seen, report) = replayed(&dir, 0, 1 << 20, DamagePolicy::Skip);
        assert_eq!(
            seen,
            [(strings(&["line 0"]), ends[0]), (strings(&["line 2"]), ends[2]), (strings(&["line 3"]), ends[3])]
        );
        assert_eq!(report.torn_tail_bytes, 0);
        let [(damage, kept)] = &report.damaged[..] else { panic!("{:?}", report.damaged) };
        // Up to the next whole frame: the damaged entry's own group end.
        assert_eq!(
            (damage.segment.clone(), damage.offset, damage.bytes, damage.what),
            (path.clone(), ends[0], ends[1] - G - ends[0], "an entry whose checksum does not match")
        );
        assert_eq!(kept, &dir.wal().join(format!("damaged/{:020}.bin", ends[0])));
        assert_eq!(std::fs::read(kept).unwrap(), &bytes[ends[0] as usize..(ends[1] - G) as usize]);
        // Nothing was cut: the log goes on after its last whole entry.
        assert_eq!(wal.position(), ends[3]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[3]);
        let fifth = entry("s", "line 4");
        wal.append_durably(&fifth).unwrap();
        drop(wal);
        // Once committed past, the damage is not reported again.
        let (_, seen, report) = replayed(&dir, ends[2], 1 << 20, DamagePolicy::Skip);
        assert_eq!(
            seen.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
            [strings(&["line 3"]), strings(&["line 4"])]
        );
        assert!(report.damaged.is_empty());
    }

    #[test]
    fn damage_in_an_older_segment_is_reported_and_refused_or_skipped() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        let (mut wal, _, _) = replayed(&dir, 0, 16, DamagePolicy::Skip);
        let ends: Vec<u64> = (0..3).map(|i| wal.append_durably(&entry("s", &format!("line {i}"))).unwrap()).collect();
        drop(wal);
        // Three segments of one entry each; damage the first one's checksum.
        let first = segment(&dir, 0);
        let mut bytes = std::fs::read(&first).unwrap();
        bytes[5] ^= 0xff;
        std::fs::write(&first, &bytes).unwrap();

        let refused = replay(&dir, 0, 16, DamagePolicy::Refuse, |_, _| Ok(())).err().unwrap();
        assert_eq!(
            refused.to_string(),
            format!(
                "write-ahead log segment {} is damaged at byte 0 (an entry whose checksum does not match; {} bytes up \
                 to the next whole entry): the lines acknowledged there cannot be recovered. The entries before it \
                 are committed. Start again with --wal-damage skip to keep a copy of the damaged bytes in {} and \
                 replay the entries after them",
                first.display(),
                ends[0] - G,
                dir.wal_damaged().display()
            )
        );
        assert_eq!(refused.kind(), sluice_schemas::ErrorKind::OperatorFixable);

        let (_, seen, report) = replayed(&dir, 0, 16, DamagePolicy::Skip);
        assert_eq!(seen, [(strings(&["line 1"]), ends[1]), (strings(&["line 2"]), ends[2])]);
        assert_eq!(report.damaged.len(), 1);
        assert_eq!((report.damaged[0].0.segment.clone(), report.damaged[0].0.bytes), (first, ends[0] - G));
    }

    #[test]
    fn segments_rotate_and_committed_ones_are_removed() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        let (mut wal, _, _) = replayed(&dir, 0, 64, DamagePolicy::Skip);
        let mut ends = Vec::new();
        for i in 0..4 {
            ends.push(wal.append_durably(&entry("s", &format!("line {i} with some bytes to pass the limit"))).unwrap());
        }
        let storage = *dir.storage();
        let count = || std::fs::read_dir(dir.wal()).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count();
        assert_eq!(count(), 4);
        assert_eq!(sluice_index::wal::remove_committed(&dir.wal(), &storage, ends[1]).unwrap(), 2);
        assert_eq!(count(), 2);
        drop(wal);
        let (_, seen, _) = replayed(&dir, ends[1], 64, DamagePolicy::Skip);
        assert_eq!(seen.iter().map(|(_, end)| *end).collect::<Vec<_>>(), [ends[2], ends[3]]);
        // The last segment stays, even when committed through.
        assert_eq!(sluice_index::wal::remove_committed(&dir.wal(), &storage, ends[3]).unwrap(), 1);
        assert_eq!(count(), 1);
    }
}
