//! The server's write-ahead log on disk: what a 2xx promised, durable
//! before the answer, until the index and archive hold it. This module owns
//! the files and the framing; the payload (a request's lines) is the
//! ingest crate's.
//!
//! ```text
//! DIR/wal/<position of its first byte, 20 digits>.wal
//! DIR/wal/damaged/<position>.bin      damaged bytes skipped at replay, kept for inspection
//! ```
//!
//! A position counts bytes over all segments ever written, so a segment's
//! name says where it starts and a position names one place in the log for
//! good. Each entry is framed as `length (u32 LE) | CRC-32 of the payload
//! (u32 LE) | payload`, and every payload starts with a format byte,
//! [`PAYLOAD_FORMAT`]. Each group of entries written and fsync'd together
//! ends with a group-end frame (its payload the one byte [`GROUP_END`]):
//! a group without one never finished its fsync, so none of it was
//! acknowledged, whatever order the disk wrote its pages in.
//!
//! At startup [`WalReader`] walks the entries after the committed position
//! and tells apart two kinds of damage:
//! * a **torn tail**: damage in the last segment with no group end after
//!   it. Its group's write never finished, so no request in it was
//!   acknowledged: the log is cut off there ([`WalItem::TornTail`]).
//! * **damage** with a finished group after it, in any segment:
//!   acknowledged lines are lost there, and the entries after it must not be
//!   ([`WalItem::Damaged`]). The caller decides whether to skip it (the
//!   bytes are copied to `damaged/`) or refuse to start.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::failpoint;
use crate::storage::{Storage, StorageFile};

const HEADER_BYTES: usize = 8;
/// The first byte of every payload this build writes.
pub const PAYLOAD_FORMAT: u8 = 1;
/// The payload of the frame that ends a group.
pub const GROUP_END: u8 = 0xF0;
/// Bytes of a group-end frame: a position returned by [`Wal::append_durably`]
/// is this much past the end of the group's last entry.
pub const GROUP_END_BYTES: u64 = HEADER_BYTES as u64 + 1;

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("write-ahead log {}: {source}", path.display())]
pub struct WalError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl WalError {
    fn at(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
        move |source| WalError { path: path.to_owned(), source }
    }

    pub fn kind(&self) -> sluice_schemas::ErrorKind {
        sluice_schemas::ErrorKind::OperatorFixable
    }
}

/// A damaged stretch of a segment, with whole entries after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub segment: PathBuf,
    /// Byte offset in the segment where the damage starts.
    pub offset: u64,
    /// Bytes up to the next whole entry (or the segment's end).
    pub bytes: u64,
    /// The log position where the damage starts.
    pub position: u64,
    pub what: &'static str,
}

/// What the reader finds, in log order.
#[derive(Debug)]
pub enum WalItem {
    /// A whole entry after the committed position, and the position after it
    /// (after its group's end, when it is the last of its group).
    Entry {
        payload: Vec<u8>,
        end: u64,
    },
    Damaged(Damage),
    /// A torn last entry, cut off when the log is opened for writing.
    TornTail {
        segment: PathBuf,
        offset: u64,
        bytes: u64,
    },
}

/// Reads the log after a committed position, one segment in memory at a
/// time, then opens it for appending.
pub struct WalReader {
    dir: PathBuf,
    storage: Storage,
    committed: u64,
    /// Segments not read yet, by start position.
    pending: std::collections::VecDeque<(u64, PathBuf)>,
    /// What the segment read last holds, still to be handed out.
    items: std::collections::VecDeque<WalItem>,
    /// Where appending resumes: the last segment and its length once a torn
    /// tail is cut (known once the last segment is read).
    tail: Option<(u64, PathBuf, u64)>,
}

impl WalReader {
    /// Lists the segments in `dir` (created if missing) that hold anything
    /// after `committed`.
    pub fn open(dir: &Path, storage: Storage, committed: u64) -> Result<WalReader, WalError> {
        storage.create_dir_all(dir).map_err(WalError::at(dir))?;
        let segments = segments(&storage, dir)?;
        // A segment whose successor starts at or before `committed` is all committed.
        let first = segments.windows(2).take_while(|pair| pair[1].0 <= committed).count();
        Ok(WalReader {
            dir: dir.to_owned(),
            storage,
            committed,
            pending: segments.into_iter().skip(first).collect(),
            items: std::collections::VecDeque::new(),
            tail: None,
        })
    }

    /// Reads the next segment's items; `false` when none is left.
    fn read_segment(&mut self) -> Result<bool, WalError> {
        let Some((start, path)) = self.pending.pop_front() else { return Ok(false) };
        let (start, path, committed) = (&start, &path, self.committed);
        let last = self.pending.is_empty();
        let items = &mut self.items;
        let bytes = std::fs::read(path).map_err(WalError::at(path))?;
        let mut offset = 0usize;
        // In the last segment: the first damage since the last group end,
        // and how many items came before it. A group end after it
        // confirms it as damage; none means a torn last group.
        let mut unconfirmed: Option<(usize, usize)> = None;
        while offset < bytes.len() {
            match decode_frame(&bytes[offset..]) {
                Ok((size, Frame::GroupEnd)) => {
                    unconfirmed = None;
                    // The group's last entry is committed through its group
                    // end: a checkpoint there leaves nothing behind it.
                    if let Some(WalItem::Entry { end, .. }) = items.back_mut()
                        && *end == start + offset as u64
                    {
                        *end += size as u64;
                    }
                    offset += size;
                }
                Ok((size, Frame::Entry)) => {
                    let end = start + (offset + size) as u64;
                    if start + offset as u64 >= committed {
                        let payload = bytes[offset + HEADER_BYTES..offset + size].to_vec();
                        items.push_back(WalItem::Entry { payload, end });
                    }
                    offset += size;
                }
                Err(what) => {
                    if last && unconfirmed.is_none() {
                        unconfirmed = Some((items.len(), offset));
                    }
                    let until = next_frame(&bytes, offset + 1).unwrap_or(bytes.len());
                    if start + until as u64 > committed {
                        items.push_back(WalItem::Damaged(Damage {
                            segment: path.clone(),
                            offset: offset as u64,
                            bytes: (until - offset) as u64,
                            position: start + offset as u64,
                            what,
                        }));
                    }
                    offset = until;
                }
            }
        }
        if let Some((first_item, at)) = unconfirmed {
            // Nothing after `at` was acknowledged: cut it all off.
            items.truncate(first_item);
            items.push_back(WalItem::TornTail {
                segment: path.clone(),
                offset: at as u64,
                bytes: (bytes.len() - at) as u64,
            });
            offset = at;
        }
        if last {
            self.tail = Some((*start, path.clone(), offset as u64));
        }
        Ok(true)
    }

    /// Keeps a copy of a damaged stretch in `damaged/<position>.bin`.
    pub fn keep_damaged(&self, damage: &Damage) -> Result<PathBuf, WalError> {
        let bytes = std::fs::read(&damage.segment).map_err(WalError::at(&damage.segment))?;
        let from = usize::try_from(damage.offset).unwrap_or(usize::MAX).min(bytes.len());
        let to = from.saturating_add(usize::try_from(damage.bytes).unwrap_or(usize::MAX)).min(bytes.len());
        let dir = self.dir.join("damaged");
        self.storage.create_dir_all(&dir).map_err(WalError::at(&dir))?;
        let path = dir.join(format!("{:020}.bin", damage.position));
        let mut file = self.storage.create(&path).map_err(WalError::at(&path))?;
        file.write_all(&bytes[from..to]).and_then(|()| file.sync_all()).map_err(WalError::at(&path))?;
        Ok(path)
    }

    /// Opens the log for appending after its last whole entry (cutting a
    /// torn tail off first), with a new segment every `segment_limit` bytes.
    pub fn into_writer(mut self, committed: u64, segment_limit: u64) -> Result<Wal, WalError> {
        // The tail is where the last segment's whole entries end.
        while self.read_segment()? {}
        let (segment_start, segment_path, length) = match self.tail {
            Some(tail) => tail,
            None => {
                let path = segment_path(&self.dir, committed);
                self.storage.create_new(&path).map_err(WalError::at(&path))?;
                self.storage.sync_dir(&self.dir).map_err(WalError::at(&self.dir))?;
                (committed, path, 0)
            }
        };
        let segment = self.storage.open_append(&segment_path).map_err(WalError::at(&segment_path))?;
        let on_disk = std::fs::metadata(&segment_path).map_err(WalError::at(&segment_path))?.len();
        if on_disk != length {
            segment.set_len(length).and_then(|()| segment.sync_all()).map_err(WalError::at(&segment_path))?;
        }
        Ok(Wal {
            dir: self.dir,
            storage: self.storage,
            segment,
            segment_path,
            segment_start,
            position: segment_start + length,
            segment_limit,
            broken: None,
            group_end: {
                let mut frame_bytes = Vec::with_capacity(GROUP_END_BYTES as usize);
                frame(&mut frame_bytes, |out| out.push(GROUP_END));
                frame_bytes
            },
        })
    }
}

impl Iterator for WalReader {
    type Item = Result<WalItem, WalError>;

    fn next(&mut self) -> Option<Result<WalItem, WalError>> {
        loop {
            if let Some(item) = self.items.pop_front() {
                return Some(Ok(item));
            }
            match self.read_segment() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// The log, open for appending.
pub struct Wal {
    dir: PathBuf,
    storage: Storage,
    segment: StorageFile,
    segment_path: PathBuf,
    segment_start: u64,
    position: u64,
    segment_limit: u64,
    /// Set when a failed append could not be cut back: the file's end is no
    /// longer `position`, so nothing more may be appended.
    broken: Option<String>,
    /// The group-end frame, written after each group.
    group_end: Vec<u8>,
}

impl Wal {
    /// The position after the last entry written.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Appends framed entries (see [`frame`]) and makes them durable. On
    /// failure nothing of them remains in the log (the caller answers each
    /// request with an error) unless the log cannot even be cut back, which
    /// is reported as such.
    pub fn append_durably(&mut self, entries: &[u8]) -> Result<u64, WalError> {
        if let Some(reason) = &self.broken {
            return Err(WalError { path: self.segment_path.clone(), source: io::Error::other(reason.clone()) });
        }
        if self.position > self.segment_start && self.position - self.segment_start >= self.segment_limit {
            self.rotate()?;
        }
        let before = self.position - self.segment_start;
        let written = self
            .segment
            .write_all(&[entries, &self.group_end].concat())
            .and_then(|()| failpoint::hit("wal.appended"))
            .and_then(|()| self.segment.sync_data())
            .and_then(|()| failpoint::hit("wal.synced"));
        if let Err(source) = written {
            // Cut back to the last durable entry so the log stays whole.
            if let Err(cut) = self.segment.set_len(before) {
                self.broken = Some(format!(
                    "an append failed ({source}) and the segment could not be cut back to byte {before} ({cut}); \
                     restart the server (the log is checked and repaired at start)"
                ));
            }
            return Err(WalError { path: self.segment_path.clone(), source });
        }
        self.position += entries.len() as u64 + GROUP_END_BYTES;
        Ok(self.position)
    }

    fn rotate(&mut self) -> Result<(), WalError> {
        let path = segment_path(&self.dir, self.position);
        let segment = match self.storage.create_new(&path) {
            // Left by a rotation whose directory sync failed: still empty, so ours.
            Err(error)
                if error.kind() == io::ErrorKind::AlreadyExists
                    && std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) =>
            {
                self.storage.open_append(&path)
            }
            other => other,
        }
        .map_err(WalError::at(&path))?;
        self.storage.sync_dir(&self.dir).map_err(WalError::at(&self.dir))?;
        self.segment = segment;
        self.segment_path = path;
        self.segment_start = self.position;
        Ok(())
    }
}

/// Bytes read from a segment at a time by [`WalRange`] (more when one
/// entry is bigger).
const RANGE_READ_BYTES: usize = 8 << 20;

/// Reads back, in order, the whole entries between two positions of a log
/// that is still being appended to, a bounded piece at a time: how the
/// server's indexer takes the entries it was not handed in memory (see
/// `sluice-ingest`'s `serve`). Both positions must be entry boundaries at
/// or before the last durable position ([`Wal::append_durably`]'s answer),
/// so that every frame in between is whole and no segment it needs is
/// missing; past `upto` the writer may be appending.
///
/// An entry's `end` is what the writer gave it: past its group end when it
/// is the last of its group. A frame that does not decode (the disk
/// damaged it after it was written) is reported as [`WalItem::Damaged`]
/// and the reader goes on at the next whole frame.
pub struct WalRange {
    segments: Vec<(u64, PathBuf)>,
    storage: Storage,
    position: u64,
    upto: u64,
    /// The segment open for reading: its start and file.
    open: Option<(u64, PathBuf, std::fs::File)>,
    /// Bytes read ahead, starting at log position `buffered_at`.
    buffer: Vec<u8>,
    buffered_at: u64,
}

impl WalRange {
    pub fn new(dir: &Path, storage: Storage, from: u64, upto: u64) -> Result<WalRange, WalError> {
        Ok(WalRange {
            segments: segments(&storage, dir)?,
            storage,
            position: from,
            upto,
            open: None,
            buffer: Vec::new(),
            buffered_at: from,
        })
    }

    /// The position up to which entries have been handed out.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next item before `upto`, or `None` once there.
    pub fn next_item(&mut self) -> Result<Option<WalItem>, WalError> {
        if self.position >= self.upto {
            return Ok(None);
        }
        let at = self.position;
        let header = self.bytes_at(at, HEADER_BYTES)?;
        let size = match header.and_then(|h| h.first_chunk::<4>()) {
            Some(length) => HEADER_BYTES + u32::from_le_bytes(*length) as usize,
            None => HEADER_BYTES,
        };
        let frame = match self.bytes_at(at, size)? {
            Some(bytes) => decode_frame(bytes).map(|(size, frame)| (size, frame, bytes[HEADER_BYTES..size].to_vec())),
            None => Err("an entry cut short"),
        };
        match frame {
            Ok((size, Frame::GroupEnd, _)) => {
                self.position += size as u64;
                self.next_item()
            }
            Ok((size, Frame::Entry, payload)) => {
                let mut end = at + size as u64;
                // The last entry of a group ends past its group end.
                if end < self.upto
                    && let Some(bytes) = self.bytes_at(end, GROUP_END_BYTES as usize)?
                    && matches!(decode_frame(bytes), Ok((_, Frame::GroupEnd)))
                {
                    end += GROUP_END_BYTES;
                }
                self.position = end;
                Ok(Some(WalItem::Entry { payload, end }))
            }
            Err(what) => {
                let (start, path) = self.segment_of(at)?;
                let segment_end = self.segment_end(at)?;
                if segment_end <= at {
                    return Err(WalError {
                        path,
                        source: io::Error::other(format!(
                            "the log ends at position {at}, before position {} that it was written up to",
                            self.upto
                        )),
                    });
                }
                let rest = self.bytes_at(at, (segment_end - at) as usize)?.unwrap_or_default();
                let until = next_frame(rest, 1).map_or(segment_end, |offset| at + offset as u64);
                self.position = until;
                Ok(Some(WalItem::Damaged(Damage {
                    segment: path,
                    offset: at - start,
                    bytes: until - at,
                    position: at,
                    what,
                })))
            }
        }
    }

    /// The segment holding position `at`: its start and path.
    fn segment_of(&self, at: u64) -> Result<(u64, PathBuf), WalError> {
        let index = self.segments.partition_point(|(start, _)| *start <= at);
        match index.checked_sub(1).map(|i| &self.segments[i]) {
            Some((start, path)) => Ok((*start, path.clone())),
            None => Err(WalError {
                path: self.segments.first().map_or_else(PathBuf::new, |(_, path)| path.clone()),
                source: io::Error::other(format!("no segment holds log position {at}")),
            }),
        }
    }

    /// Where the data of the segment holding `at` ends for this reader:
    /// at the next segment's start, `upto`, or the file's end.
    fn segment_end(&mut self, at: u64) -> Result<u64, WalError> {
        let (start, path) = self.segment_of(at)?;
        let next = self.segments.iter().map(|(s, _)| *s).find(|s| *s > start).unwrap_or(u64::MAX);
        let length = std::fs::metadata(&path).map_err(WalError::at(&path))?.len();
        Ok(next.min(self.upto).min(start + length))
    }

    /// The `len` bytes at position `at`, or `None` if the segment ends
    /// (or `upto` comes) first.
    fn bytes_at(&mut self, at: u64, len: usize) -> Result<Option<&[u8]>, WalError> {
        let have = at >= self.buffered_at && at + len as u64 <= self.buffered_at + self.buffer.len() as u64;
        if !have {
            let (start, path) = self.segment_of(at)?;
            let end = self.segment_end(at)?;
            if at + len as u64 > end {
                return Ok(None);
            }
            if self.open.as_ref().is_none_or(|(open, _, _)| *open != start) {
                let file = self.storage.open_read(&path).map_err(WalError::at(&path))?;
                self.open = Some((start, path, file));
            }
            let (_, path, file) = self.open.as_ref().expect("opened above");
            let want = len.max(RANGE_READ_BYTES).min((end - at) as usize);
            self.buffer.resize(want, 0);
            std::os::unix::fs::FileExt::read_exact_at(file, &mut self.buffer, at - start)
                .map_err(WalError::at(path))?;
            self.buffered_at = at;
        }
        let from = (at - self.buffered_at) as usize;
        Ok(Some(&self.buffer[from..from + len]))
    }
}

/// Deletes the segments that end at or before `committed`: every one but
/// the last, whose successor starts at or before it.
pub fn remove_committed(dir: &Path, storage: &Storage, committed: u64) -> Result<usize, WalError> {
    let segments = segments(storage, dir)?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        if pair[1].0 <= committed {
            storage.remove_file(&pair[0].1).map_err(WalError::at(&pair[0].1))?;
            failpoint::hit("wal.segment_deleted").map_err(WalError::at(&pair[0].1))?;
            removed += 1;
        }
    }
    if removed > 0 {
        storage.sync_dir(dir).map_err(WalError::at(dir))?;
    }
    Ok(removed)
}

/// Bytes in the log's segments on disk.
pub fn disk_bytes(dir: &Path) -> u64 {
    segments(&Storage::local(), dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|(_, path)| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum()
}

/// Frames `payload` (which starts with [`PAYLOAD_FORMAT`]) as one entry,
/// appended to `out`. `write_payload` appends the payload's bytes.
pub fn frame(out: &mut Vec<u8>, write_payload: impl FnOnce(&mut Vec<u8>)) {
    let header_at = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    let payload_at = out.len();
    write_payload(out);
    let payload_len = (out.len() - payload_at) as u32;
    let crc = crc32fast::hash(&out[payload_at..]);
    out[header_at..header_at + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[header_at + 4..header_at + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What a whole frame holds.
enum Frame {
    Entry,
    GroupEnd,
}

/// The size and kind of the whole frame at the start of `bytes`, or what is wrong.
fn decode_frame(bytes: &[u8]) -> Result<(usize, Frame), &'static str> {
    let Some((header, rest)) = bytes.split_first_chunk::<HEADER_BYTES>() else {
        return Err("a partial entry header");
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let Some(payload) = rest.get(..len) else { return Err("an entry cut short") };
    if crc32fast::hash(payload) != crc {
        return Err("an entry whose checksum does not match");
    }
    match payload {
        [GROUP_END] => Ok((HEADER_BYTES + len, Frame::GroupEnd)),
        [PAYLOAD_FORMAT, ..] => Ok((HEADER_BYTES + len, Frame::Entry)),
        _ => Err("an entry in an unknown format"),
    }
}

/// The first offset at or after `from` where a whole entry starts.
fn next_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&at| {
        let rest = &bytes[at..];
        // Cheap checks first: a plausible length and the format byte.
        rest.len() > HEADER_BYTES
            && matches!(rest.get(HEADER_BYTES), Some(&PAYLOAD_FORMAT | &GROUP_END))
            && (u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize) <= rest.len() - HEADER_BYTES
            && decode_frame(rest).is_ok()
    })
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.wal"))
}

/// The segments in `dir`, by start position.
fn segments(storage: &Storage, dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut segments = Vec::new();
    for path in storage.list(dir).map_err(WalError::at(dir))? {
        let start =
            path.extension().filter(|e| *e == "wal").and_then(|_| path.file_stem()?.to_str()?.parse::<u64>().ok());
        if let Some(start) = start {
            segments.push((start, path));
        }
    }
    segments.sort();
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        frame(&mut out, |out| {
            out.push(PAYLOAD_FORMAT);
            out.extend_from_slice(text.as_bytes());
        });
        out
    }

    fn text(item: WalItem) -> (String, u64) {
        match item {
            WalItem::Entry { payload, end } => (String::from_utf8(payload[1..].to_vec()).unwrap(), end),
            other => panic!("expected an entry, got {other:?}"),
        }
    }

    /// Three groups over two segments, and every entry's end as the server
    /// hands it to the indexer (past the group end for a group's last).
    fn written(dir: &Path) -> (Wal, Vec<(String, u64)>) {
        let mut wal = WalReader::open(dir, Storage::local(), 0).unwrap().into_writer(0, 50).unwrap();
        let mut ends = Vec::new();
        for group in [&["a", "bb", "ccc"][..], &["dddd"], &["ee", "f"]] {
            let entries: Vec<Vec<u8>> = group.iter().map(|t| entry(t)).collect();
            let mut end = wal.position();
            let position = wal.append_durably(&entries.concat()).unwrap();
            for (i, (text, bytes)) in group.iter().zip(&entries).enumerate() {
                end += bytes.len() as u64;
                ends.push((text.to_string(), if i == group.len() - 1 { position } else { end }));
            }
        }
        (wal, ends)
    }

    fn range(dir: &Path, from: u64, upto: u64) -> Vec<(String, u64)> {
        let mut range = WalRange::new(dir, Storage::local(), from, upto).unwrap();
        let mut items = Vec::new();
        while let Some(item) = range.next_item().unwrap() {
            items.push(text(item));
        }
        assert_eq!(range.position(), upto);
        items
    }

    #[test]
    fn a_range_reads_the_entries_between_two_boundaries_with_the_ends_the_writer_gave_them() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, ends) = written(dir.path());
        assert!(segments(&Storage::local(), dir.path()).unwrap().len() >= 2, "the log rotated");
        assert_eq!(range(dir.path(), 0, wal.position()), ends);
        // The same ends as the startup reader's.
        let replayed: Vec<_> =
            WalReader::open(dir.path(), Storage::local(), 0).unwrap().map(|i| text(i.unwrap())).collect();
        assert_eq!(replayed, ends);
        // From inside a group to another boundary: only what lies between.
        let (after_a, after_dddd) = (ends[0].1, ends[3].1);
        assert_eq!(range(dir.path(), after_a, after_dddd), ends[1..4]);
        assert_eq!(range(dir.path(), after_dddd, after_dddd), []);
    }

    #[test]
    fn a_damaged_frame_is_reported_and_the_range_goes_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, ends) = written(dir.path());
        // Flip a byte of "bb"'s payload.
        let first = segment_path(dir.path(), 0);
        let mut bytes = std::fs::read(&first).unwrap();
        let at = ends[0].1 as usize + HEADER_BYTES + 1;
        bytes[at] ^= 0xff;
        std::fs::write(&first, bytes).unwrap();
        let mut range = WalRange::new(dir.path(), Storage::local(), 0, wal.position()).unwrap();
        let mut seen = Vec::new();
        while let Some(item) = range.next_item().unwrap() {
            seen.push(match item {
                WalItem::Damaged(damage) => (format!("damaged {} bytes at {}", damage.bytes, damage.offset), 0),
                item => text(item),
            });
        }
        let damaged = (ends[1].1 - ends[0].1, ends[0].1);
        assert_eq!(seen[0], ends[0]);
        assert_eq!(seen[1], (format!("damaged {} bytes at {}", damaged.0, damaged.1), 0));
        assert_eq!(seen[2..], ends[2..]);
    }

    #[test]
    fn a_range_past_the_end_of_the_log_is_an_error_not_a_loop() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = written(dir.path());
        let mut range = WalRange::new(dir.path(), Storage::local(), wal.position(), wal.position() + 50).unwrap();
        let error = range.next_item().unwrap_err().to_string();
        assert!(error.contains(&format!("the log ends at position {}", wal.position())), "{error}");
    }
}
