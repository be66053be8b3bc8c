//! `sluice-ingest` into a data directory: the account adds up, the index
//! and the archive hold exactly the accepted records, rejected lines are in
//! the dead-letter files, and a rerun of the same files adds nothing.

use std::path::Path;

use serde_json::{Value, json};

use crate::{archive_rows, collect, generate_corpus, index_docs, run, stderr_text, stdout_lines};

fn dead_letters(dir: &Path) -> Vec<Value> {
    let mut files = Vec::new();
    collect(&dir.join("deadletter"), "ndjson", &mut files);
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn ingest_accounts_for_every_line_and_stores_each_record_once() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let args =
        ["--data-dir", data_arg, "--summary-json", "--max-line-bytes", "450", "fixtures/malformed/every-reason.ndjson"];
    let output = run("sluice-ingest", &args, None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let mut summary: Value = serde_json::from_str(&stdout_lines(&output)[0]).unwrap();
    summary.as_object_mut().unwrap().remove("elapsed_seconds");
    let file_len = std::fs::metadata(crate::workspace().join("fixtures/malformed/every-reason.ndjson")).unwrap().len();
    assert_eq!(
        summary,
        json!({"lines_read": 11, "accepted": 5, "rejected": 4, "blank": 2, "bytes_read": file_len,
               "rejected_by_reason": {"invalid_json": 2, "invalid_utf8": 1, "not_an_object": 1}})
    );
    // Index documents = archive rows = accepted.
    assert_eq!(index_docs(&data), 5);
    assert_eq!(archive_rows(&data), 5);
    // Rejected lines, losslessly, with where they came from and why.
    let letters = dead_letters(&data);
    assert_eq!(letters.len(), 4);
    assert_eq!(
        letters[0],
        json!({"source": "fixtures/malformed/every-reason.ndjson", "line": 3, "reason": "invalid_json",
               "detail": "not valid JSON at byte 0 near 'n': expected a JSON value", "raw": "not json"})
    );
    assert_eq!(letters[2]["reason"], "invalid_utf8");
    assert_eq!(letters[2]["raw_base64"], "eyJtc2ciOiJjYWbpIGF1IGxhaXQifQ==");
    // No staged files are left behind.
    let mut staged = Vec::new();
    collect(&data, "tmp", &mut staged);
    assert!(staged.is_empty(), "{staged:?}");

    // The same command again resumes after the checkpoint: nothing is read twice.
    let again = run("sluice-ingest", &args, None);
    assert_eq!(again.status.code(), Some(0), "{}", stderr_text(&again));
    let summary: Value = serde_json::from_str(&stdout_lines(&again)[0]).unwrap();
    assert_eq!(summary["lines_read"], 0);
    assert_eq!(index_docs(&data), 5);
    assert_eq!(archive_rows(&data), 5);

    // Appended lines are picked up from where the last run stopped.
    let copy = temp.path().join("app.ndjson");
    std::fs::write(&copy, "{\"msg\":\"one\",\"time\":\"2024-01-01T00:00:00Z\"}\n").unwrap();
    let copy_arg = copy.to_str().unwrap();
    let first = run("sluice-ingest", &["--data-dir", data_arg, "--summary-json", copy_arg], None);
    assert_eq!(serde_json::from_str::<Value>(&stdout_lines(&first)[0]).unwrap()["accepted"], 1);
    let mut file = std::fs::OpenOptions::new().append(true).open(&copy).unwrap();
    std::io::Write::write_all(&mut file, b"{\"msg\":\"two\",\"time\":\"2024-01-01T00:00:01Z\"}\n").unwrap();
    let second = run("sluice-ingest", &["--data-dir", data_arg, "--summary-json", copy_arg], None);
    let summary: Value = serde_json::from_str(&stdout_lines(&second)[0]).unwrap();
    assert_eq!((summary["lines_read"].as_u64(), summary["accepted"].as_u64()), (Some(1), Some(1)));
    assert_eq!(index_docs(&data), 7);
    assert_eq!(archive_rows(&data), 7);
}

#[test]
fn many_small_batches_and_stdin() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut input = Vec::new();
    for i in 0..500 {
        input.extend_from_slice(
            format!("{{\"msg\":\"line {i}\",\"level\":\"info\",\"ts\":{}}}\n", 1_700_000_000 + i * 60).as_bytes(),
        );
    }
    let output = run(
        "sluice-ingest",
        &["--data-dir", data.to_str().unwrap(), "--summary-json", "--batch-bytes", "4096", "-"],
        Some(&input),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let summary: Value = serde_json::from_str(&stdout_lines(&output)[0]).unwrap();
    assert_eq!(summary["accepted"], 500);
    assert_eq!(index_docs(&data), 500);
    assert_eq!(archive_rows(&data), 500);
    let manifest: Value = serde_json::from_slice(&std::fs::read(data.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["last_batch"].as_u64().unwrap() > 5, "{manifest}");
}

/// DuckDB, pyarrow, Polars, DataFusion and Spark read the archive as it is, and agree
/// with the corpus on row count, counts by level, column types and
/// nanosecond timestamps. `.ci/run` installs them (`pip install duckdb
/// pyarrow polars datafusion pyspark`, and Java from Debian's openjdk-17-jre-headless);
/// locally, install them the same way.
#[test]
fn duckdb_pyarrow_polars_datafusion_and_spark_read_the_archive_as_written() {
    let temp = tempfile::tempdir().unwrap();
    let (corpus, _) = generate_corpus(temp.path(), "corpus", &["--size", "3MB", "--seed", "5"]);
    let expected = temp.path().join("corpus.expected.json");
    let data = temp.path().join("data");
    let ingested = run("sluice-ingest", &["--data-dir", data.to_str().unwrap(), corpus.to_str().unwrap()], None);
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    let packages = "duckdb pyarrow polars datafusion pyspark (and Java 17: apt-get install openjdk-17-jre-headless)";
    let stdout = crate::run_python("check_archive.py", &[data.as_os_str(), expected.as_os_str()], packages);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 45, "{stdout}");
    // And once compacted: files re-sorted by service, with bloom filters.
    let compacted = run("sluice-ingest", &["compact", "--data-dir", data.to_str().unwrap(), "--zstd-level", "3"], None);
    assert_eq!(compacted.status.code(), Some(0), "{}", stderr_text(&compacted));
    let stdout = crate::run_python("check_archive.py", &[data.as_os_str(), expected.as_os_str()], packages);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 45, "{stdout}");
}

#[test]
fn gzip_and_zstd_inputs_are_decompressed() {
    let temp = tempfile::tempdir().unwrap();
    let plain = crate::workspace().join("fixtures/malformed/every-reason.ndjson");
    let bytes = std::fs::read(&plain).unwrap();
    let gz = temp.path().join("every-reason.ndjson.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &bytes).unwrap();
    encoder.finish().unwrap();
    let zst = temp.path().join("every-reason.ndjson.zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    for (i, path) in [&gz, &zst].into_iter().enumerate() {
        let data = temp.path().join(format!("data{i}"));
        let args =
            ["--data-dir", data.to_str().unwrap(), "--summary-json", "--max-line-bytes", "300", path.to_str().unwrap()];
        let output = run("sluice-ingest", &args, None);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
        let summary: Value = serde_json::from_str(&stdout_lines(&output)[0]).unwrap();
        assert_eq!(
            (summary["lines_read"].as_u64(), summary["accepted"].as_u64(), summary["blank"].as_u64()),
            (Some(11), Some(4), Some(2)),
            "{}",
            path.display()
        );
        assert_eq!(summary["bytes_read"].as_u64(), Some(bytes.len() as u64), "decompressed bytes");
        assert_eq!(index_docs(&data), 4);
        assert_eq!(archive_rows(&data), 4);
        // A rerun resumes past everything: the decompressed offset is the checkpoint.
        let again = run("sluice-ingest", &args, None);
        assert_eq!(serde_json::from_str::<Value>(&stdout_lines(&again)[0]).unwrap()["lines_read"], 0);
        let dry = run("sluice-ingest", &["--dry-run", "--max-line-bytes", "300", path.to_str().unwrap()], None);
        assert_eq!(stdout_lines(&dry).len(), 4, "{}", stderr_text(&dry));
    }
}

/// A full disk at the commit point (the manifest write: `/dev/full` answers
/// every write with ENOSPC) stops the run with exit 3 and a message that
/// says what to do; once space is back, the same command ingests every
/// line exactly once.
#[test]
fn disk_full_stops_cleanly_and_the_rerun_loses_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let input = temp.path().join("app.ndjson");
    let mut lines = String::new();
    for i in 0..300 {
        lines.push_str(&format!("{{\"ts\":{},\"level\":\"info\",\"msg\":\"request {i} done\"}}\n", 1_700_000_000 + i));
    }
    std::fs::write(&input, &lines).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let staged_manifest = data.join("manifest.json.tmp");
    std::os::unix::fs::symlink("/dev/full", &staged_manifest).unwrap();
    let args = ["--data-dir", data.to_str().unwrap(), "--summary-json", input.to_str().unwrap()];

    let full = run("sluice-ingest", &args, None);
    assert_eq!(full.status.code(), Some(3), "{}", stderr_text(&full));
    let message = stderr_text(&full);
    assert!(
        message.starts_with(&format!(
            "sluice-ingest: error: disk full: data directory {}: No space left on device (os error 28)\n",
            staged_manifest.display()
        )),
        "{message}"
    );
    assert!(message.contains("run the same command again: it resumes after the last committed batch"), "{message}");
    assert!(full.stdout.is_empty(), "no summary for a failed run");
    // Nothing is visible: the batch never reached its commit point.
    assert_eq!(archive_rows(&data), 0);

    std::fs::remove_file(&staged_manifest).unwrap();
    let rerun = run("sluice-ingest", &args, None);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr_text(&rerun));
    let summary: Value = serde_json::from_str(&stdout_lines(&rerun)[0]).unwrap();
    assert_eq!((summary["lines_read"].as_u64(), summary["accepted"].as_u64()), (Some(300), Some(300)));
    assert_eq!(index_docs(&data), 300);
    assert_eq!(archive_rows(&data), 300);
}

/// A data directory written in another on-disk format (here: format 1,
/// whose term dictionaries are FSTs) is refused by both binaries with exit 3
/// and what to do, before anything in it is opened or changed.
#[test]
fn a_data_dir_in_another_format_is_refused_with_what_to_do() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let input = temp.path().join("app.ndjson");
    std::fs::write(&input, "{\"ts\":1700000000,\"level\":\"info\",\"msg\":\"started\"}\n").unwrap();
    let ingest_args = ["--data-dir", data.to_str().unwrap(), input.to_str().unwrap()];
    let first = run("sluice-ingest", &ingest_args, None);
    assert_eq!(first.status.code(), Some(0), "{}", stderr_text(&first));
    let manifest_path = data.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["format_version"], 2);
    manifest["format_version"] = json!(1);
    let old = serde_json::to_vec_pretty(&manifest).unwrap();
    std::fs::write(&manifest_path, &old).unwrap();

    let expected = format!(
        "data directory {} is in format 1, and this Sluice reads format 2 only: ingest into a new --data-dir \
         (the old archive's Parquet files stay readable by DuckDB, pyarrow and any Parquet reader)\n",
        data.display()
    );
    let ingest = run("sluice-ingest", &ingest_args, None);
    assert_eq!(ingest.status.code(), Some(3), "{}", stderr_text(&ingest));
    assert_eq!(stderr_text(&ingest), format!("sluice-ingest: error: {expected}"));
    let search = run("sluice", &["--data-dir", data.to_str().unwrap(), "search", "*"], None);
    assert_eq!(search.status.code(), Some(3), "{}", stderr_text(&search));
    assert_eq!(stderr_text(&search), format!("sluice: error: {expected}"));
    assert_eq!(std::fs::read(&manifest_path).unwrap(), old, "the refused directory is left as it was");
    assert_eq!(archive_rows(&data), 1);
}
