//! `sluice-ingest replay`: dead-lettered lines ingested again, usually
//! under a fixed `--schema`.
//!
//! For each dead-letter file, its entries' raw lines (text, or base64 when
//! they were not UTF-8) are written once, in order, to a replay input in
//! `DIR/replay/` ([`DataDir::replay_inputs`]) named for the file's content,
//! and the replay inputs are ingested by the ordinary pipeline. So:
//! * line N of a replay input is entry N of its dead-letter file: a line
//!   still rejected becomes a new dead letter whose `source` is the replay
//!   input and `line` is N; a line not dead-lettered again was accepted;
//! * a replay input is checkpointed like any input file, so a replay run
//!   again, or after a crash, resumes after what it committed and never
//!   ingests a line twice (replay inputs are kept for that);
//! * once its replay input is committed whole, a dead-letter file of the
//!   data directory is moved to `DIR/deadletter/replayed/`: the dead
//!   letters left in `DIR/deadletter/` are the lines still rejected.
//!
//! An entry kept truncated (`raw_truncated`: a line over `--max-line-bytes`)
//! is replayed as kept, which is not the whole line; it is counted in
//! [`ReplayOutcome::truncated`].

use std::path::{Path, PathBuf};

use base64::Engine;
use sluice_index::data_dir::DataDir;

use crate::IngestError;
use crate::pipeline::{IngestConfig, ingest};
use crate::source::Input;
use crate::summary::Summary;

/// What `sluice-ingest replay` did.
#[derive(Clone, Debug, Default)]
pub struct ReplayOutcome {
    /// The replayed lines' account: accepted now, or rejected again (and
    /// dead-lettered again) with the reason.
    pub summary: Summary,
    /// Dead-letter files replayed.
    pub files: usize,
    /// Entries that held only the start of their line.
    pub truncated: u64,
    /// Dead-letter files of the data directory moved to `replayed/`.
    pub moved: usize,
}

/// Replays `files` (every dead-letter file of the data directory when
/// empty) into `config`'s data directory, under `config`'s schema.
pub fn replay(config: &IngestConfig, files: &[PathBuf]) -> Result<ReplayOutcome, IngestError> {
    let dir = DataDir::open(&config.data_dir).map_err(IngestError::DataDir)?;
    let files = if files.is_empty() { dir.dead_letter_files().map_err(IngestError::DataDir)? } else { files.to_vec() };
    let mut outcome = ReplayOutcome { files: files.len(), ..ReplayOutcome::default() };
    if files.is_empty() {
        return Ok(outcome);
    }
    let inputs_dir = dir.replay_inputs();
    dir.storage().create_dir_all(&inputs_dir).map_err(|source| write_error(&inputs_dir, source))?;
    let mut inputs = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).map_err(|source| IngestError::OpenInput { path: file.to_owned(), source })?;
        let input = replay_input(&inputs_dir, file, &text)?;
        if !input.exists() {
            let (lines, truncated) = raw_lines(file, &text)?;
            outcome.truncated += truncated;
            dir.storage()
                .write_atomically(&input, &lines, "replay.input_staged")
                .map_err(|(path, source)| write_error(&path, source))?;
        }
        inputs.push(Input::File(input));
    }
    let mut replay_config = config.clone();
    replay_config.inputs = inputs;
    // Compaction of what replay writes is left to the next run.
    replay_config.compaction = None;
    outcome.summary = ingest(&replay_config)?;
    // Every replay input is committed whole: the dead-letter files of the
    // data directory have been replayed.
    let replayed = dir.replayed_dead_letters();
    for file in &files {
        if file.parent() == Some(dir.deadletter().as_path()) {
            dir.storage().create_dir_all(&replayed).map_err(|source| write_error(&replayed, source))?;
            let Some(name) = file.file_name() else { continue };
            let to = replayed.join(name);
            dir.storage().rename(file, &to).map_err(|source| write_error(&to, source))?;
            dir.storage().sync_dir(&replayed).map_err(|source| write_error(&replayed, source))?;
            dir.storage().sync_dir(&dir.deadletter()).map_err(|source| write_error(&replayed, source))?;
            outcome.moved += 1;
        }
    }
    Ok(outcome)
}

/// The replay input of a dead-letter file whose content is `text`:
/// `<stem>.<crc32>-<length>.ndjson`. Named by content, so the same dead
/// letters named again (from `deadletter/replayed/`, or a copy under
/// another name) find the replay input they had, whose checkpoint says
/// they are done.
fn replay_input(inputs_dir: &Path, file: &Path, text: &str) -> Result<PathBuf, IngestError> {
    let tag = format!(".{:08x}-{:x}.ndjson", crc32fast::hash(text.as_bytes()), text.len());
    if let Ok(entries) = std::fs::read_dir(inputs_dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with(&tag) {
                return Ok(entry.path());
            }
        }
    }
    let stem = file.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "input".to_owned());
    Ok(inputs_dir.join(format!("{stem}{tag}")))
}

/// The raw lines of a dead-letter file's entries, newline-terminated, and
/// how many were truncated.
fn raw_lines(file: &Path, text: &str) -> Result<(Vec<u8>, u64), IngestError> {
    let mut out = Vec::with_capacity(text.len());
    let mut truncated = 0;
    for (number, line) in text.lines().enumerate() {
        let bad = |what: &str| IngestError::ReadInput {
            path: file.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {}: {what}: not a dead-letter entry (sluice-ingest writes them)", number + 1),
            ),
        };
        let entry: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        if entry["raw_truncated"] == serde_json::Value::Bool(true) {
            truncated += 1;
        }
        match (&entry["raw"], &entry["raw_base64"]) {
            (serde_json::Value::String(raw), _) => out.extend_from_slice(raw.as_bytes()),
            (_, serde_json::Value::String(encoded)) => out.extend_from_slice(
                &base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| bad(&e.to_string()))?,
            ),
            _ => return Err(bad("no `raw` or `raw_base64`")),
        }
        out.push(b'\n');
    }
    Ok((out, truncated))
}

fn write_error(path: &Path, source: std::io::Error) -> IngestError {
    IngestError::DataDir(sluice_index::data_dir::DataDirError::Io { path: path.to_owned(), source })
}
