//! The server's write-ahead log: what a 2xx promised, on disk before the
//! answer, until the index and archive hold it.
//!
//! ```text
//! DIR/wal/<position of its first byte, 20 digits>.wal
//! ```
//!
//! A position counts bytes over all segments ever written, so a segment's
//! name says where it starts and a position names one place in the log for
//! good. Each entry is one request's lines, as the [`Chunk`] the pipeline
//! normalizes, framed as `length (u32 LE) | CRC-32 of the payload (u32 LE)
//! | payload`.
//!
//! The manifest's checkpoint [`CHECKPOINT_KEY`] is the position up to which
//! entries are committed to the index and archive; it moves in the same
//! atomic manifest write as the batch that holds them. At startup,
//! [`Wal::open`] hands back every entry after it, to be ingested again, and
//! cuts off a torn last entry (one whose fsync never finished, so no client
//! was told it was kept). [`remove_committed`] drops segments the
//! checkpoint has passed.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_schemas::{ErrorKind, Producer, Timestamp};

use crate::pipeline::{Chunk, ChunkLine};

/// The manifest checkpoint that says how far the log is committed.
pub const CHECKPOINT_KEY: &str = "<write-ahead log>";

const HEADER_BYTES: usize = 8;
const FORMAT_VERSION: u8 = 1;
/// Marks an absent string (`service`) or number (`too_long`).
const NONE_U32: u32 = u32::MAX;
const NONE_U64: u64 = u64::MAX;

/// Why the write-ahead log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("write-ahead log {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "write-ahead log segment {} is damaged at byte {offset}: {what}; it is not the last segment, so this is \
         not an interrupted write. Move the segment aside to start without it (its lines are then lost)",
        path.display()
    )]
    Corrupt { path: PathBuf, offset: u64, what: &'static str },
}

impl WalError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::OperatorFixable
    }
}

/// The open log, positioned after its last whole entry.
pub struct Wal {
    dir: PathBuf,
    segment: File,
    segment_path: PathBuf,
    segment_start: u64,
    position: u64,
    segment_limit: u64,
}

impl Wal {
    /// Opens (creating) the log in `dir`. Calls `replay` with each entry
    /// after position `committed`, oldest first, and the position after it.
    pub fn open(
        dir: &Path,
        committed: u64,
        segment_limit: u64,
        mut replay: impl FnMut(Chunk, u64) -> Result<(), crate::IngestError>,
    ) -> Result<Wal, crate::IngestError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| WalError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let segments = segments(dir)?;
        let mut end = committed;
        for (i, (start, path)) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let next_start = segments.get(i + 1).map(|(s, _)| *s);
            if next_start.is_some_and(|next| next <= committed) {
                continue;
            }
            let bytes = std::fs::read(path).map_err(io(path))?;
            let mut offset = 0usize;
            loop {
                match decode_entry(&bytes[offset..]) {
                    Decoded::Entry { chunk, size } => {
                        let entry_end = start + (offset + size) as u64;
                        if start + offset as u64 >= committed {
                            replay(chunk, entry_end)?;
                        }
                        offset += size;
                        end = entry_end;
                    }
                    Decoded::End => break,
                    Decoded::Damaged(_) if last => {
                        // A torn write: its request was never answered 2xx.
                        let file = OpenOptions::new().write(true).open(path).map_err(io(path))?;
                        file.set_len(offset as u64).and_then(|()| file.sync_all()).map_err(io(path))?;
                        break;
                    }
                    Decoded::Damaged(what) => {
                        return Err(WalError::Corrupt { path: path.clone(), offset: offset as u64, what }.into());
                    }
                }
            }
            if last {
                end = start + offset as u64;
            }
        }
        let (segment_start, segment_path) = match segments.last() {
            Some((start, path)) => (*start, path.clone()),
            None => {
                let path = segment_path(dir, end);
                File::create(&path).map_err(io(&path))?;
                sync_dir(dir)?;
                (end, path)
            }
        };
        let mut segment = OpenOptions::new().append(true).open(&segment_path).map_err(io(&segment_path))?;
        segment.seek(SeekFrom::End(0)).map_err(io(&segment_path))?;
        Ok(Wal { dir: dir.to_owned(), segment, segment_path, segment_start, position: end, segment_limit })
    }

    /// The position after the last entry written.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Appends encoded entries and makes them durable. On failure nothing
    /// of them remains in the log (the caller answers each request with an
    /// error) unless the log cannot even be cut back, which is reported as
    /// such.
    pub fn append_durably(&mut self, entries: &[u8]) -> Result<u64, WalError> {
        if self.position > self.segment_start && self.position - self.segment_start >= self.segment_limit {
            self.rotate()?;
        }
        let before = self.position - self.segment_start;
        let written = self.segment.write_all(entries).and_then(|()| self.segment.sync_data());
        if let Err(source) = written {
            // Cut back to the last durable entry so the log stays whole.
            let _ = self.segment.set_len(before);
            return Err(WalError::Io { path: self.segment_path.clone(), source });
        }
        self.position += entries.len() as u64;
        Ok(self.position)
    }

    fn rotate(&mut self) -> Result<(), WalError> {
        let path = segment_path(&self.dir, self.position);
        let segment = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|source| WalError::Io { path: path.clone(), source })?;
        sync_dir(&self.dir)?;
        self.segment = segment;
        self.segment_path = path;
        self.segment_start = self.position;
        Ok(())
    }
}

/// Deletes the segments that end at or before `committed`: every one but
/// the last, whose successor starts at or before it.
pub fn remove_committed(dir: &Path, committed: u64) -> Result<usize, WalError> {
    let segments = segments(dir)?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        if pair[1].0 <= committed {
            std::fs::remove_file(&pair[0].1).map_err(|source| WalError::Io { path: pair[0].1.clone(), source })?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Bytes in the log's segments on disk.
pub fn disk_bytes(dir: &Path) -> u64 {
    segments(dir).unwrap_or_default().iter().filter_map(|(_, path)| std::fs::metadata(path).ok()).map(|m| m.len()).sum()
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.wal"))
}

/// The segments in `dir`, by start position.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let io = |source| WalError::Io { path: dir.to_owned(), source };
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let start =
            path.extension().filter(|e| *e == "wal").and_then(|_| path.file_stem()?.to_str()?.parse::<u64>().ok());
        if let Some(start) = start {
            segments.push((start, path));
        }
    }
    segments.sort();
    Ok(segments)
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| WalError::Io { path: dir.to_owned(), source })
}

/// Appends `chunk` to `out` as one log entry.
pub fn encode_entry(chunk: &Chunk, out: &mut Vec<u8>) {
    let header_at = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    let payload_at = out.len();
    out.push(FORMAT_VERSION);
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
    let payload_len = (out.len() - payload_at) as u32;
    let crc = crc32fast::hash(&out[payload_at..]);
    out[header_at..header_at + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[header_at + 4..header_at + 8].copy_from_slice(&crc.to_le_bytes());
}

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

enum Decoded {
    Entry {
        chunk: Chunk,
        size: usize,
    },
    /// No bytes left.
    End,
    Damaged(&'static str),
}

fn decode_entry(bytes: &[u8]) -> Decoded {
    if bytes.is_empty() {
        return Decoded::End;
    }
    if bytes.len() < HEADER_BYTES {
        return Decoded::Damaged("a partial entry header");
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap_or_default());
    let Some(payload) = bytes.get(HEADER_BYTES..HEADER_BYTES + len) else {
        return Decoded::Damaged("an entry cut short");
    };
    if crc32fast::hash(payload) != crc {
        return Decoded::Damaged("an entry whose checksum does not match");
    }
    match decode_payload(payload) {
        Some(chunk) => Decoded::Entry { chunk, size: HEADER_BYTES + len },
        None => Decoded::Damaged("an entry in an unknown format"),
    }
}

fn decode_payload(payload: &[u8]) -> Option<Chunk> {
    let mut reader = payload;
    let mut version = [0u8];
    reader.read_exact(&mut version).ok()?;
    if version[0] != FORMAT_VERSION {
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
    chunk.lines = Vec::with_capacity(count);
    for _ in 0..count {
        let number = u64::from_le_bytes(take(&mut reader)?);
        let too_long = u64::from_le_bytes(take(&mut reader)?);
        let line = take_bytes(&mut reader)?;
        let start = chunk.data.len();
        chunk.data.extend_from_slice(line);
        let too_long = (too_long != NONE_U64).then_some(too_long);
        chunk.lines.push(ChunkLine { number, start, end: chunk.data.len(), too_long });
    }
    if !reader.is_empty() {
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

    fn replayed(dir: &Path, committed: u64) -> (Wal, Vec<(Vec<String>, u64)>) {
        let mut seen = Vec::new();
        let wal = Wal::open(dir, committed, 1 << 20, |chunk, end| {
            seen.push((lines(&chunk), end));
            Ok(())
        })
        .unwrap();
        (wal, seen)
    }

    #[test]
    fn an_entry_round_trips_every_field() {
        let mut original = chunk("http 127.0.0.1:1 /api/v1/ingest", &[r#"{"a":1}"#, "not json"]);
        original.service = Some(Arc::from("checkout"));
        original.producer = Some(Producer::Pino);
        original.lines[1].too_long = Some(5_000_000);
        let mut bytes = Vec::new();
        encode_entry(&original, &mut bytes);
        let Decoded::Entry { chunk, size } = decode_entry(&bytes) else { panic!("not decoded") };
        assert_eq!(size, bytes.len());
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
    }

    #[test]
    fn reopening_replays_what_is_after_the_checkpoint_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, seen) = replayed(dir.path(), 0);
        assert!(seen.is_empty());
        let mut first = Vec::new();
        encode_entry(&chunk("a", &["one", "two"]), &mut first);
        let after_first = wal.append_durably(&first).unwrap();
        let mut second = Vec::new();
        encode_entry(&chunk("b", &["three"]), &mut second);
        let after_second = wal.append_durably(&second).unwrap();
        assert_eq!(after_second, (first.len() + second.len()) as u64);
        drop(wal);

        let (_, seen) = replayed(dir.path(), 0);
        assert_eq!(
            seen,
            [(vec!["one".to_owned(), "two".to_owned()], after_first), (vec!["three".to_owned()], after_second)]
        );
        let (_, seen) = replayed(dir.path(), after_first);
        assert_eq!(seen, [(vec!["three".to_owned()], after_second)]);

        // A crash in the middle of writing a third entry.
        let mut third = Vec::new();
        encode_entry(&chunk("c", &["four"]), &mut third);
        let segment = segment_path(dir.path(), 0);
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(&third[..third.len() - 3]).unwrap();
        drop(file);
        let (mut wal, seen) = replayed(dir.path(), after_second);
        assert!(seen.is_empty());
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), after_second);
        assert_eq!(wal.append_durably(&third).unwrap(), after_second + third.len() as u64);
        let (_, seen) = replayed(dir.path(), after_second);
        assert_eq!(seen, [(vec!["four".to_owned()], after_second + third.len() as u64)]);
    }

    #[test]
    fn segments_rotate_and_committed_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 0, 64, |_, _| Ok(())).unwrap();
        let mut ends = Vec::new();
        for i in 0..4 {
            let mut entry = Vec::new();
            encode_entry(&chunk("s", &[&format!("line {i} with some bytes to pass the limit")]), &mut entry);
            ends.push(wal.append_durably(&entry).unwrap());
        }
        assert_eq!(segments(dir.path()).unwrap().len(), 4);
        assert_eq!(remove_committed(dir.path(), ends[1]).unwrap(), 2);
        let left: Vec<u64> = segments(dir.path()).unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(left, [ends[1], ends[2]]);
        drop(wal);
        let mut seen = Vec::new();
        Wal::open(dir.path(), ends[1], 64, |chunk, end| {
            seen.push((lines(&chunk), end));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.iter().map(|(_, end)| *end).collect::<Vec<_>>(), [ends[2], ends[3]]);
        // The last segment stays, even when committed through.
        assert_eq!(remove_committed(dir.path(), ends[3]).unwrap(), 1);
        assert_eq!(segments(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_segment_that_is_not_the_last_is_an_error_not_a_silent_loss() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 0, 16, |_, _| Ok(())).unwrap();
        for _ in 0..2 {
            let mut entry = Vec::new();
            encode_entry(&chunk("s", &["a line"]), &mut entry);
            wal.append_durably(&entry).unwrap();
        }
        drop(wal);
        let first = segment_path(dir.path(), 0);
        let mut bytes = std::fs::read(&first).unwrap();
        let at = bytes.len() - 2;
        bytes[at] ^= 0xff;
        std::fs::write(&first, bytes).unwrap();
        let error = Wal::open(dir.path(), 0, 16, |_, _| Ok(())).err().unwrap().to_string();
        assert!(error.contains("is damaged at byte 0: an entry whose checksum does not match"), "{error}");
    }
}
