//! Archive file names, which files of a partition are live, and where a
//! record's row is: the one place that knows how compaction renames rows.
//!
//! A partition (`date=…/hour=…`) holds two kinds of file:
//!
//! * `part-<batch>.parquet`: the rows one ingest batch wrote for that hour,
//!   sorted by time;
//! * `part-<first>-<last>.parquet`: a compaction's output, holding the rows
//!   of every batch file (and earlier output) in that range it merged,
//!   re-sorted by service, message template, host, then time. Its key-value metadata
//!   ([`BATCHES_KEY`]) lists the batches and their row counts, and its row
//!   map (beside the index, [`row_map_path`]) where each of their rows went:
//!   references printed before compaction keep working;
//! * `part-<first>-<last>-<generation>.parquet`: the same file rewritten
//!   by per-service retention without the rows that expired
//!   ([`crate::retention`]); each rewrite adds one to the generation. Its
//!   batch table still lists every batch's rows as ingest numbered them, so
//!   the row map has holes: the expired rows map to no row.
//!
//! A file is **superseded** when a compacted file in the same partition
//! covers its whole batch range (and, over the same range, has a higher
//! generation): compaction and retention publish their output before they
//! delete the inputs, so for a moment (or after a crash, until the next
//! start) both are there. Every Sluice reader keeps to [`live_files`], so
//! no row is ever read twice; engines that glob the directory see both
//! during that moment (the layout contract says so).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::storage::Storage;

/// The Parquet key-value metadata key of a compacted file's batches:
/// `"<batch>:<rows>,<batch>:<rows>,…"`, in row order.
pub const BATCHES_KEY: &str = "sluice.batches";

/// The file extension of a compacted file's row map: for each of its rows,
/// the position the row had among its inputs' rows (in batch table order),
/// as zigzag varint deltas, zstd-compressed. Compaction re-sorts rows (by
/// service, template, host, then time) and a record's index document still names its batch
/// and row, so this is how the row is found. Rows of one template and host
/// keep their input order, so most deltas are small.
///
/// It lives in the index directory ([`row_map_path`]), not in the Parquet
/// file: it is the index's pointer into the archive, which engines reading
/// the archive never need. It is written and fsync'd before its Parquet
/// file is published, and deleted after that file is.
pub const ROW_MAP_EXTENSION: &str = "rowmap";

/// Where the row map of the compacted archive file `compacted` (under
/// `archive`) lives: `index/rowmaps/date=…/hour=…/<stem>.rowmap`.
pub fn row_map_path(index: &Path, archive: &Path, compacted: &Path) -> PathBuf {
    let relative = compacted.strip_prefix(archive).unwrap_or(compacted);
    index.join("rowmaps").join(relative).with_extension(ROW_MAP_EXTENSION)
}

/// What an archive file's name says it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArchiveFileName {
    /// `part-<batch>.parquet`.
    Batch(u64),
    /// `part-<first>-<last>.parquet` (generation 0), a compaction's
    /// output, or `part-<first>-<last>-<generation>.parquet`, that output
    /// rewritten by retention.
    Compacted { first: u64, last: u64, generation: u32 },
}

impl ArchiveFileName {
    /// The name of a published archive file (`….parquet`); `None` for
    /// anything else (staged files, the layout file, strangers).
    ///
    /// In a shared archive (several ingesters writing one prefix), a file's
    /// name also carries its writer: `part-<batch>.<writer>.parquet`; see
    /// [`writer_of`].
    pub fn parse(path: &Path) -> Option<ArchiveFileName> {
        let name = path.file_name()?.to_str()?;
        let stem = name.strip_suffix(".parquet")?.strip_prefix("part-")?;
        let stem = match stem.split_once('.') {
            Some((stem, writer)) if is_writer_name(writer) => stem,
            Some(_) => return None,
            None => stem,
        };
        let number = |text: &str| -> Option<u64> {
            (text.len() == 20 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
        };
        let mut parts = stem.splitn(3, '-');
        let (first, last, generation) = (parts.next()?, parts.next(), parts.next());
        match (last, generation) {
            (None, _) => Some(ArchiveFileName::Batch(number(first)?)),
            (Some(last), generation) => {
                let (first, last) = (number(first)?, number(last)?);
                let generation = match generation {
                    None => 0,
                    // Written without leading zeros, from 1: one name a file.
                    Some(text) if !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) => {
                        text.parse().ok().filter(|&generation| generation > 0)?
                    }
                    Some(_) => return None,
                };
                (first <= last).then_some(ArchiveFileName::Compacted { first, last, generation })
            }
        }
    }

    /// The file stem (`part-…`).
    pub fn stem(&self) -> String {
        match self {
            ArchiveFileName::Batch(batch) => format!("part-{batch:020}"),
            ArchiveFileName::Compacted { first, last, generation: 0 } => format!("part-{first:020}-{last:020}"),
            ArchiveFileName::Compacted { first, last, generation } => {
                format!("part-{first:020}-{last:020}-{generation}")
            }
        }
    }

    /// The batches it may hold rows of.
    pub fn range(&self) -> (u64, u64) {
        match *self {
            ArchiveFileName::Batch(batch) => (batch, batch),
            ArchiveFileName::Compacted { first, last, .. } => (first, last),
        }
    }

    /// The name of this file rewritten without some of its rows: a batch
    /// file becomes a compacted file of its one batch, a compacted file
    /// the next generation of itself.
    pub fn rewritten(&self) -> ArchiveFileName {
        match *self {
            ArchiveFileName::Batch(batch) => ArchiveFileName::Compacted { first: batch, last: batch, generation: 0 },
            ArchiveFileName::Compacted { first, last, generation } => {
                ArchiveFileName::Compacted { first, last, generation: generation.saturating_add(1) }
            }
        }
    }

    pub fn is_compacted(&self) -> bool {
        matches!(self, ArchiveFileName::Compacted { .. })
    }

    /// Whether `other`'s batches all fall in this compacted file's range
    /// and this file is the newer: a wider range, or the same range
    /// rewritten (a higher generation, or a batch file compacted alone).
    fn covers(&self, other: &ArchiveFileName) -> bool {
        let ArchiveFileName::Compacted { first, last, generation } = *self else { return false };
        let (other_first, other_last) = other.range();
        let newer = match *other {
            ArchiveFileName::Batch(_) => true,
            ArchiveFileName::Compacted { generation: other_generation, .. } => {
                (first, last) != (other_first, other_last) || generation > other_generation
            }
        };
        newer && first <= other_first && other_last <= last
    }
}

/// Whether `name` may name a writer of a shared archive: 1 to 64 of
/// `a-z`, `0-9` and `-`, so that it is safe in every object store's keys
/// and every engine's globs.
pub fn is_writer_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The writer an archive file's name carries (`part-….<writer>.parquet`),
/// `""` for a data directory's own files, which carry none. Batch numbers
/// are each writer's own, so compacted files supersede only files of the
/// same writer.
pub fn writer_of(path: &Path) -> &str {
    path.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(".parquet"))
        .and_then(|stem| stem.split_once('.'))
        .map_or("", |(_, writer)| writer)
}

/// The files of `files` that no compacted file of the same writer in the
/// same directory supersedes, in the order given. Files that are not
/// archive files are dropped.
pub fn live_files(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut by_dir: BTreeMap<(&Path, &str), Vec<ArchiveFileName>> = BTreeMap::new();
    for path in files {
        if let (Some(name), Some(dir)) = (ArchiveFileName::parse(path), path.parent()) {
            by_dir.entry((dir, writer_of(path))).or_default().push(name);
        }
    }
    files
        .iter()
        .filter(|path| {
            let (Some(name), Some(dir)) = (ArchiveFileName::parse(path), path.parent()) else { return false };
            !by_dir[&(dir, writer_of(path))].iter().any(|other| other.covers(&name))
        })
        .cloned()
        .collect()
}

/// The archive files of one partition that a compacted file there
/// supersedes: what a compaction, finished or stopped by a crash after it
/// published its output, has left to delete.
pub fn superseded_files(partition_files: &[PathBuf]) -> Vec<PathBuf> {
    let live = live_files(partition_files);
    partition_files
        .iter()
        .filter(|path| ArchiveFileName::parse(path).is_some() && !live.contains(path))
        .cloned()
        .collect()
}

/// The `(batch, rows)` list a compacted file's metadata value encodes.
pub fn parse_batches(value: &str) -> Option<Vec<(u64, u64)>> {
    value
        .split(',')
        .map(|entry| {
            let (batch, rows) = entry.split_once(':')?;
            Some((batch.parse().ok()?, rows.parse().ok()?))
        })
        .collect()
}

/// The metadata value of a `(batch, rows)` list (see [`BATCHES_KEY`]).
pub fn format_batches(batches: &[(u64, u64)]) -> String {
    batches.iter().map(|(batch, rows)| format!("{batch}:{rows}")).collect::<Vec<_>>().join(",")
}

/// A row map's bytes for `positions` (the input position of each row
/// written, in written order).
pub fn encode_row_map(positions: &[u32]) -> Vec<u8> {
    let mut varints = Vec::with_capacity(positions.len() * 2);
    let mut previous = 0i64;
    for &position in positions {
        let delta = i64::from(position) - previous;
        previous = i64::from(position);
        let mut zigzag = ((delta << 1) ^ (delta >> 63)) as u64;
        loop {
            let byte = (zigzag & 0x7f) as u8;
            zigzag >>= 7;
            if zigzag == 0 {
                varints.push(byte);
                break;
            }
            varints.push(byte | 0x80);
        }
    }
    // zstd into a Vec fails only when allocation does.
    zstd::bulk::compress(&varints, 19).unwrap_or_default()
}

/// [`encode_row_map`] undone: the input position of each row, in row
/// order. `rows` is the file's row count and `positions` the rows its batch
/// table lists (more than `rows` once retention removed some); `None` when
/// the bytes are damaged or do not give each row a distinct position below
/// `positions`.
pub fn decode_row_positions(bytes: &[u8], rows: usize, positions_listed: usize) -> Option<Vec<u32>> {
    if rows > positions_listed || positions_listed > u32::MAX as usize {
        return None;
    }
    // Each row takes one to five varint bytes.
    let varints = zstd::bulk::decompress(bytes, rows.checked_mul(5)?.max(1)).ok()?;
    let mut positions = Vec::with_capacity(rows);
    let mut seen = vec![false; positions_listed];
    let (mut previous, mut shift, mut zigzag) = (0i64, 0u32, 0u64);
    for byte in varints {
        if shift > 63 {
            return None;
        }
        zigzag |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 != 0 {
            shift += 7;
            continue;
        }
        let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        previous = previous.checked_add(delta)?;
        let position = usize::try_from(previous).ok()?;
        if std::mem::replace(seen.get_mut(position)?, true) {
            return None;
        }
        positions.push(position as u32);
        (shift, zigzag) = (0, 0);
    }
    (positions.len() == rows && shift == 0).then_some(positions)
}

/// [`decode_row_positions`] turned round: for each input position, the
/// row it is written at ([`EXPIRED`] for a row retention removed).
pub fn decode_row_map(bytes: &[u8], rows: usize, positions_listed: usize) -> Option<Vec<u32>> {
    Some(invert(&decode_row_positions(bytes, rows, positions_listed)?, positions_listed))
}

/// What the inverted row map holds for an input position whose row
/// retention removed.
pub const EXPIRED: u32 = u32::MAX;

/// For each of `positions_listed` input positions, the row it is written
/// at, from the input position of each row (distinct, as
/// [`decode_row_positions`] checks).
fn invert(positions: &[u32], positions_listed: usize) -> Vec<u32> {
    let mut row_of = vec![EXPIRED; positions_listed];
    for (row, &position) in positions.iter().enumerate() {
        row_of[position as usize] = row as u32;
    }
    row_of
}

/// The row map of a compacted file of `rows` rows whose batch table lists
/// `positions_listed`, as its input positions in row order: what
/// compaction needs to merge the file again.
pub fn read_row_positions(
    storage: &Storage,
    row_map: &Path,
    rows: usize,
    positions_listed: usize,
) -> Result<Vec<u32>, String> {
    let bytes = storage
        .read_if_exists(row_map)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("its row map {} is missing (restore it, or re-ingest the hour)", row_map.display()))?;
    decode_row_positions(&bytes, rows, positions_listed)
        .ok_or_else(|| format!("its row map {} is not a map of its {rows} rows", row_map.display()))
}

/// How many rows a batch table lists.
pub fn rows_listed(batches: &[(u64, u64)]) -> usize {
    batches.iter().map(|&(_, rows)| rows as usize).sum()
}

/// Where a record's row is now: the file and the row in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowLocation {
    pub path: PathBuf,
    pub row: u64,
}

/// Finds the rows of batch files in one partition directory, following
/// compactions. Caches the directory's listing and the compacted files'
/// batch tables; [`RowLocator::forget`] drops them after a file vanished
/// (a compaction ran between listing and opening).
#[derive(Debug)]
pub struct RowLocator {
    index: PathBuf,
    archive: PathBuf,
    listings: BTreeMap<PathBuf, Vec<PathBuf>>,
    batch_tables: BTreeMap<PathBuf, CompactedTable>,
}

/// What a compacted file's footer says of its rows.
#[derive(Debug)]
struct CompactedTable {
    batches: Vec<(u64, u64)>,
    /// For each input position, its row.
    row_of: Vec<u32>,
}

impl RowLocator {
    /// For the data directory whose `index/` and `archive/` these are.
    pub fn new(index: &Path, archive: &Path) -> RowLocator {
        RowLocator {
            index: index.to_owned(),
            archive: archive.to_owned(),
            listings: BTreeMap::new(),
            batch_tables: BTreeMap::new(),
        }
    }

    /// Where row `row` of batch `batch`'s file in `partition` is: the batch's
    /// own file while it exists, else the live compacted file covering the
    /// batch, at the row offset its batch table gives. `Ok(None)` when no
    /// file holds the batch.
    pub fn locate(
        &mut self,
        storage: &Storage,
        partition: &Path,
        batch: u64,
        row: u64,
    ) -> std::io::Result<Option<RowLocation>> {
        let own = partition.join(format!("{}.parquet", ArchiveFileName::Batch(batch).stem()));
        if !self.listings.contains_key(partition) {
            let listing = live_files(&storage.list(partition)?);
            self.listings.insert(partition.to_owned(), listing);
        }
        let listing = &self.listings[partition];
        if listing.contains(&own) {
            return Ok(Some(RowLocation { path: own, row }));
        }
        let Some(compacted) = listing
            .iter()
            .find(|path| {
                ArchiveFileName::parse(path).is_some_and(|name| {
                    let (first, last) = name.range();
                    name.is_compacted() && first <= batch && batch <= last
                })
            })
            .cloned()
        else {
            return Ok(None);
        };
        if !self.batch_tables.contains_key(&compacted) {
            let row_map = row_map_path(&self.index, &self.archive, &compacted);
            let table = read_compacted_table(storage, &storage.open_read(&compacted)?, &row_map)
                .map_err(|message| std::io::Error::other(format!("{}: {message}", compacted.display())))?;
            self.batch_tables.insert(compacted.clone(), table);
        }
        let table = &self.batch_tables[&compacted];
        let mut offset = 0;
        for &(table_batch, rows) in &table.batches {
            if table_batch == batch {
                if row >= rows {
                    return Ok(None);
                }
                let Some(&new_row) = table.row_of.get((offset + row) as usize) else { return Ok(None) };
                if new_row == EXPIRED {
                    return Err(std::io::Error::other(format!(
                        "row {row} of batch {batch} is past the retention: {} was rewritten without it",
                        compacted.display()
                    )));
                }
                return Ok(Some(RowLocation { path: compacted, row: u64::from(new_row) }));
            }
            offset += rows;
        }
        Ok(None)
    }

    /// Forgets what it read of `partition`, to look again.
    pub fn forget(&mut self, partition: &Path) {
        if let Some(listing) = self.listings.remove(partition) {
            for path in listing {
                self.batch_tables.remove(&path);
            }
        }
    }
}

/// A compacted file's batch table, from its footer.
pub fn read_batch_table(file: &File) -> Result<Vec<(u64, u64)>, String> {
    batch_table(&footer(file)?)
}

/// A compacted file's batch table, from its footer already read.
pub fn batch_table(metadata: &parquet::file::metadata::ParquetMetaData) -> Result<Vec<(u64, u64)>, String> {
    let value = key_value(metadata, BATCHES_KEY)?;
    parse_batches(value).ok_or_else(|| format!("its {BATCHES_KEY} metadata is not valid: {value:?}"))
}

fn footer(file: &File) -> Result<parquet::file::metadata::ParquetMetaData, String> {
    parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(file)
        .map_err(|error| format!("cannot read its footer: {error}"))
}

fn key_value<'a>(metadata: &'a parquet::file::metadata::ParquetMetaData, key: &str) -> Result<&'a str, String> {
    metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|pairs| pairs.iter().find(|pair| pair.key == key))
        .and_then(|pair| pair.value.as_deref())
        .ok_or_else(|| format!("a compacted archive file without its {key} metadata"))
}

fn read_compacted_table(storage: &Storage, file: &File, row_map: &Path) -> Result<CompactedTable, String> {
    let metadata = footer(file)?;
    let batches = batch_table(&metadata)?;
    let rows = usize::try_from(metadata.file_metadata().num_rows()).map_err(|e| e.to_string())?;
    let listed = rows_listed(&batches);
    let row_of = invert(&read_row_positions(storage, row_map, rows, listed)?, listed);
    Ok(CompactedTable { batches, row_of })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn names_round_trip_and_strangers_are_not_archive_files() {
        let batch = ArchiveFileName::Batch(7);
        let compacted = ArchiveFileName::Compacted { first: 3, last: 9, generation: 0 };
        let rewritten = compacted.rewritten().rewritten();
        for name in [batch, compacted, rewritten, batch.rewritten()] {
            assert_eq!(ArchiveFileName::parse(Path::new(&format!("{}.parquet", name.stem()))), Some(name));
        }
        assert_eq!(compacted.stem(), "part-00000000000000000003-00000000000000000009");
        assert_eq!(rewritten.stem(), "part-00000000000000000003-00000000000000000009-2");
        assert_eq!(batch.rewritten().stem(), "part-00000000000000000007-00000000000000000007");
        for stranger in [
            "part-00000000000000000007.parquet.tmp",
            "_sluice_layout.json",
            "part-7.parquet",
            "part-00000000000000000009-00000000000000000003.parquet",
            "part-00000000000000000003-00000000000000000009-0.parquet",
            "part-00000000000000000003-00000000000000000009-01.parquet",
            "part-00000000000000000003-00000000000000000009-x.parquet",
            "part-00000000000000000003-00000000000000000009-1-2.parquet",
            "x.parquet",
        ] {
            assert_eq!(ArchiveFileName::parse(Path::new(stranger)), None, "{stranger}");
        }
    }

    #[test]
    fn compacted_files_supersede_the_files_they_cover_in_their_own_partition() {
        let p = |dir: &str, name: ArchiveFileName| PathBuf::from(format!("{dir}/{}.parquet", name.stem()));
        use ArchiveFileName::Batch;
        let compacted = |first, last| ArchiveFileName::Compacted { first, last, generation: 0 };
        let files = vec![
            p("h10", Batch(1)),
            p("h10", Batch(2)),
            p("h10", compacted(1, 2)),
            p("h10", Batch(3)),
            p("h11", Batch(2)),
            p("h12", compacted(1, 4)),
            p("h12", compacted(1, 9)),
            p("h12", Batch(10)),
            p("h13", compacted(1, 4)),
            p("h13", compacted(1, 4).rewritten()),
            p("h13", Batch(5)),
            p("h13", Batch(5).rewritten()),
        ];
        assert_eq!(
            names(&live_files(&files)),
            [
                "h10/part-00000000000000000001-00000000000000000002.parquet",
                "h10/part-00000000000000000003.parquet",
                "h11/part-00000000000000000002.parquet",
                "h12/part-00000000000000000001-00000000000000000009.parquet",
                "h12/part-00000000000000000010.parquet",
                "h13/part-00000000000000000001-00000000000000000004-1.parquet",
                "h13/part-00000000000000000005-00000000000000000005.parquet",
            ]
        );
        let h13: Vec<PathBuf> = files.iter().filter(|f| f.starts_with("h13")).cloned().collect();
        assert_eq!(
            names(&superseded_files(&h13)),
            ["h13/part-00000000000000000001-00000000000000000004.parquet", "h13/part-00000000000000000005.parquet"]
        );
        let h12: Vec<PathBuf> = files.iter().filter(|f| f.starts_with("h12")).cloned().collect();
        assert_eq!(names(&superseded_files(&h12)), ["h12/part-00000000000000000001-00000000000000000004.parquet"]);
    }

    #[test]
    fn in_a_shared_archive_compacted_files_supersede_only_their_own_writers_files() {
        let files: Vec<PathBuf> = [
            "h10/part-00000000000000000001.alpha.parquet",
            "h10/part-00000000000000000002.alpha.parquet",
            "h10/part-00000000000000000001-00000000000000000002.alpha.parquet",
            "h10/part-00000000000000000001.beta-2.parquet",
            "h10/part-00000000000000000002.parquet",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(
            names(&live_files(&files)),
            [
                "h10/part-00000000000000000001-00000000000000000002.alpha.parquet",
                "h10/part-00000000000000000001.beta-2.parquet",
                "h10/part-00000000000000000002.parquet",
            ]
        );
        assert_eq!(writer_of(&files[3]), "beta-2");
        assert_eq!(writer_of(&files[4]), "");
        assert_eq!(ArchiveFileName::parse(&files[3]), Some(ArchiveFileName::Batch(1)));
        for stranger in ["part-00000000000000000001.Alpha.parquet", "part-00000000000000000001..parquet"] {
            assert_eq!(ArchiveFileName::parse(Path::new(stranger)), None, "{stranger}");
        }
    }

    #[test]
    fn row_maps_round_trip_and_damage_is_refused() {
        let positions = [3u32, 0, 4, 1, 2];
        let value = encode_row_map(&positions);
        // Input position 3 is written first, 0 second, …
        assert_eq!(decode_row_map(&value, 5, 5), Some(vec![1, 3, 4, 0, 2]));
        assert_eq!(decode_row_map(&value, 6, 6), None);
        assert_eq!(decode_row_map(&encode_row_map(&[0, 0]), 2, 2), None);
        assert_eq!(decode_row_map(b"not zstd", 5, 5), None);
        assert_eq!(decode_row_map(&encode_row_map(&[]), 0, 0), Some(vec![]));
        // Retention removed input positions 1 and 3: they map to no row.
        let holes = encode_row_map(&[4, 0, 2]);
        assert_eq!(decode_row_map(&holes, 3, 5), Some(vec![1, EXPIRED, 2, EXPIRED, 0]));
        assert_eq!(decode_row_map(&holes, 3, 4), None, "a position past what the batch table lists");
        assert_eq!(decode_row_map(&holes, 3, 2), None, "more rows than the batch table lists");
    }

    #[test]
    fn batch_tables_round_trip() {
        let table = vec![(1, 10), (4, 0), (9, 3)];
        assert_eq!(parse_batches(&format_batches(&table)), Some(table));
        assert_eq!(parse_batches("1:x"), None);
    }
}
