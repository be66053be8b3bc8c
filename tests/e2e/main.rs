//! End-to-end tests: the real binaries on the bundled fixtures, asserting
//! exact counts, output, error text and exit codes.
//!
//! The binaries must be built first (`cargo build --workspace --bins`, which
//! `scripts/test` does): cargo builds another package's binaries only for
//! that package's own tests.

mod cli;
mod compaction;
mod corpus;
mod crash;
mod disk_full;
mod durability;
mod extreme;
mod ingest;
mod ingest_dry_run;
mod live_store;
mod loki_api;
mod query;
mod racing;
mod readme;
mod replay;
mod retention;
mod serve;
mod serve_backpressure;
mod serve_connections;
mod serve_shippers;
mod shared_archive;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built binary of the workspace, from the same target directory and
/// profile as this test.
pub fn binary(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/<name>
    let profile_dir = test_exe.parent().and_then(Path::parent).expect("test binary lives in target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build the binaries first with `cargo build --profile test --workspace --bins --tests` (scripts/test does)",
        path.display()
    );
    path
}

/// Runs a binary from the workspace root with `args` and optional stdin.
pub fn run(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(binary(name));
    command.args(args).current_dir(workspace()).env_remove("SLUICE_DATA_DIR");
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

pub fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

pub fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Rows in every published Parquet file of a data directory's archive.
pub fn archive_rows(dir: &Path) -> usize {
    let mut files = Vec::new();
    collect(&dir.join("archive"), "parquet", &mut files);
    files
        .iter()
        .map(|path| {
            let file = std::fs::File::open(path).unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
            reader.metadata().file_metadata().num_rows() as usize
        })
        .sum()
}

/// Documents in every day split of a data directory's index.
pub fn index_docs(dir: &Path) -> u64 {
    sluice_index::splits::list_splits(&dir.join("index"))
        .unwrap()
        .into_iter()
        .map(|(_, path)| tantivy::Index::open_in_dir(path).unwrap().reader().unwrap().searcher().num_docs())
        .sum()
}

/// Files under `dir` (recursively) with this extension.
pub fn collect(dir: &Path, extension: &str, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// Runs `sluice-corpus` with `flags` into `dir`; returns the corpus path and
/// the generator's expected account.
pub fn generate_corpus(dir: &Path, name: &str, flags: &[&str]) -> (PathBuf, serde_json::Value) {
    let corpus = dir.join(format!("{name}.ndjson"));
    let expected = dir.join(format!("{name}.expected.json"));
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["--out", corpus.to_str().unwrap(), "--expected", expected.to_str().unwrap()]);
    let generated = run("sluice-corpus", &args, None);
    assert_eq!(generated.status.code(), Some(0), "{}", stderr_text(&generated));
    let expected = serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap();
    (corpus, expected)
}

/// Runs one of `tests/interop/`'s Python scripts; returns its stdout once
/// it succeeded. A missing module fails with the `pip install` that brings
/// it (`.ci/run` installs them all).
pub fn run_python(script: &str, args: &[&std::ffi::OsStr], packages: &str) -> String {
    let output = std::process::Command::new("python3")
        .arg(workspace().join("tests/interop").join(script))
        .args(args)
        .output()
        .expect("python3 must be installed");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("ModuleNotFoundError"), "{script} needs: pip install {packages}\n{stderr}");
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    stdout
}
