//! Named fail-points: the places where the crash and disk-full tests make
//! the real binaries fail, on the real code path.
//!
//! Compiled in only with the `failpoints` feature (the end-to-end tests'
//! build enables it; `cargo install` and the benchmarks' release builds do
//! not), through tikv's `fail` crate. A build with the feature reads the
//! `FAILPOINTS` environment variable at start (see [`setup_from_env`]), in
//! `fail`'s syntax: `name=action;name=action`, where an action may be
//! preceded by a count of hits to let pass (`2*off->return(kill)`: the third
//! hit fires). The actions Sluice gives meaning to:
//!
//! * `return(kill)`: the process sends itself SIGKILL at that point, as an
//!   abrupt crash would (no destructor, no flush, no unwinding);
//! * `return(enospc)`: the operation fails as on a full disk (ENOSPC);
//! * `return(eio)`: the operation fails with an I/O error (EIO);
//! * `fail`'s own `sleep(ms)` and `pause` slow a step down.
//!
//! Every name in use is listed in [`ALL`], with what fires there.

use std::io;

/// Every fail-point, with the step it stands for.
pub const ALL: &[(&str, &str)] = &[
    ("storage.create", "a data-directory file is created (archive, dead letters, manifest, log segment)"),
    ("storage.write", "bytes are written to a data-directory file"),
    ("storage.fsync", "a data-directory file is fsync'd"),
    ("storage.rename", "a staged file is renamed into place (publish, manifest)"),
    ("storage.sync_dir", "a directory is fsync'd after a rename, create or delete"),
    ("storage.delete", "a data-directory file is deleted (recovery, log segments)"),
    ("storage.probe", "the probe for free space is written, not yet renamed (a server waiting for room)"),
    ("split.create", "a file of a day split is created (tantivy's segment files)"),
    ("split.write", "bytes are written to a file of a day split"),
    ("split.fsync", "a file of a day split is flushed and fsync'd"),
    ("split.atomic_write", "a day split's meta.json is replaced: the split's own commit point"),
    ("split.sync_dir", "a day split's directory is fsync'd"),
    ("split.delete", "a file of a day split is deleted (merged or rolled-back segments)"),
    ("data_dir.layout_staged", "a new archive's _sluice_layout.json is written and fsync'd, not yet renamed"),
    ("commit.archive_staged", "a batch's Parquet files are written and fsync'd, not yet committed"),
    ("commit.dead_letters_staged", "a batch's dead letters are written and fsync'd, not yet committed"),
    ("commit.split_early", "a day split was committed early, to open a fifth one, mid-batch"),
    ("commit.splits", "every day split of the batch is committed; the manifest is not yet stored"),
    ("commit.manifest_staged", "the new manifest is written to manifest.json.tmp, not yet renamed"),
    ("commit.manifest", "the manifest records the batch; its files are not yet published"),
    ("commit.archive_published", "one of the batch's Parquet files is published"),
    ("commit.dead_letters_published", "the batch's dead letters are published"),
    ("compact.archive_staged", "a compacted archive file is written and fsync'd, not yet renamed into place"),
    ("compact.row_map_staged", "a compacted file's row map is written and fsync'd, not yet renamed into place"),
    ("compact.archive_published", "a compacted archive file is published; its inputs are not yet deleted"),
    ("compact.inputs_removed", "a compacted archive file's inputs are deleted"),
    ("compact.split_merged", "a day split's segments are merged into one"),
    ("retention.policy_staged", "retention.json is written and fsync'd, not yet renamed"),
    ("retention.split_removed", "an expired day's index split is moved aside; its archive is not yet"),
    ("retention.archive_removed", "an expired day's archive is moved aside; neither is deleted yet"),
    ("retention.deleted", "an expired day's split and archive are deleted"),
    ("wal.appended", "log entries are written, not yet fsync'd"),
    ("wal.synced", "log entries are fsync'd; their requests are not yet answered"),
    ("wal.segment_deleted", "a committed log segment is deleted"),
];

/// Reads `FAILPOINTS` (a build without the `failpoints` feature ignores it).
pub fn setup_from_env() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}

/// Passes the fail-point `name`: nothing happens unless the tests armed it.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> io::Result<()> {
    match fail::eval(name, |argument| argument) {
        None => Ok(()),
        Some(action) => act(name, action.as_deref()),
    }
}

/// Passes the fail-point `name`: a build without the `failpoints` feature
/// has none.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) -> io::Result<()> {
    Ok(())
}

#[cfg(feature = "failpoints")]
fn act(name: &str, action: Option<&str>) -> io::Result<()> {
    match action {
        Some("kill") => {
            // SIGKILL to ourselves: the crash the tests stand in for.
            let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
            // Never reached; should the signal somehow not arrive, still die abruptly.
            std::process::abort()
        }
        Some("enospc") => Err(io::Error::from_raw_os_error(28)),
        Some("eio") => Err(io::Error::from_raw_os_error(5)),
        other => Err(io::Error::other(format!("fail-point {name}: unknown action {other:?}"))),
    }
}
