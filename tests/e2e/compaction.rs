//! `sluice-ingest compact`: every answer the same before, during and after
//! compaction, references printed before it still working, and a crash at
//! each of its steps losing and duplicating nothing.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arrow_array::Array;
use serde_json::Value;

use crate::{binary, collect, generate_corpus, run, stderr_text, stdout_lines, workspace};

fn sluice(data: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    run("sluice", &all, None)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let output = sluice(data, args);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_text(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// `sluice-ingest compact` on `data` with `FAILPOINTS` (none when empty).
fn compact(data: &Path, extra: &[&str], failpoints: &str) -> Output {
    let mut command = Command::new(binary("sluice-ingest"));
    command.arg("compact").arg("--data-dir").arg(data).args(extra);
    command.current_dir(workspace()).env_remove("SLUICE_DATA_DIR").stdin(Stdio::null());
    if !failpoints.is_empty() {
        command.env("FAILPOINTS", failpoints);
    }
    command.output().unwrap()
}

/// A corpus over two days, ingested in small batches: many archive files an
/// hour and many segments a day split, as a trickle leaves them.
fn ingested(temp: &Path) -> (PathBuf, Value) {
    let flags = ["--size", "1500KB", "--seed", "5", "--days", "2", "--needles", "4", "--traces", "4"];
    let (corpus, expected) = generate_corpus(temp, "corpus", &flags);
    let data = temp.join("data");
    let ingest = run(
        "sluice-ingest",
        &["--data-dir", data.to_str().unwrap(), "--batch-bytes", "15000", corpus.to_str().unwrap()],
        None,
    );
    assert_eq!(ingest.status.code(), Some(0), "{}", stderr_text(&ingest));
    (data, expected)
}

/// The event reference `sluice search` prints for each needle.
fn needle_references(data: &Path, expected: &Value) -> Vec<String> {
    expected["needles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|needle| {
            let table = stdout_lines(&sluice(data, &["search", needle.as_str().unwrap()]));
            table[1].split_whitespace().nth(4).unwrap().to_owned()
        })
        .collect()
}

/// What the readers answer: every command that reads the index, the archive
/// or both, with the output it printed.
fn answers(data: &Path, expected: &Value, references: &[String], full: bool) -> Vec<(String, String)> {
    let mut commands: Vec<Vec<String>> = vec![
        vec!["count".into(), "*".into(), "--format".into(), "json".into()],
        // Every record, read back from the archive: none twice, none missing.
        vec![
            "search".into(),
            "*".into(),
            "--oldest-first".into(),
            "--limit".into(),
            "1000000".into(),
            "--format".into(),
            "ndjson".into(),
        ],
        vec![
            "sql".into(),
            "SELECT count(*) AS n, sum(length(message)) AS bytes FROM logs".into(),
            "--format".into(),
            "csv".into(),
        ],
    ];
    if full {
        commands.push(vec![
            "count".into(),
            "*".into(),
            "--by".into(),
            "service".into(),
            "--format".into(),
            "json".into(),
        ]);
        commands.push(vec![
            "sql".into(),
            "SELECT date, hour, level, count(*) AS n FROM logs GROUP BY date, hour, level ORDER BY date, hour, level"
                .into(),
            "--format".into(),
            "csv".into(),
        ]);
        for needle in expected["needles"].as_array().unwrap() {
            commands.push(vec!["search".into(), needle.as_str().unwrap().into(), "--format".into(), "ndjson".into()]);
        }
        for trace in expected["traces"].as_object().unwrap().keys() {
            commands.push(vec!["trace".into(), trace.clone(), "--format".into(), "ndjson".into()]);
        }
        for reference in references {
            let context = ["context", reference, "-B", "3", "-A", "3", "--format", "ndjson"];
            commands.push(context.iter().map(|s| s.to_string()).collect());
        }
    }
    commands
        .into_iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (args.join(" "), ok(data, &args))
        })
        .collect()
}

fn assert_same(before: &[(String, String)], after: &[(String, String)], when: &str) {
    assert_eq!(before.len(), after.len());
    for ((command, was), (_, now)) in before.iter().zip(after) {
        assert!(was == now, "{when}: `sluice {command}` answered differently:\nbefore: {was:.600}\nafter:  {now:.600}");
    }
}

/// Archive files per hour partition, by partition.
fn files_per_partition(data: &Path) -> Vec<(String, Vec<String>)> {
    let mut files = Vec::new();
    collect(&data.join("archive"), "parquet", &mut files);
    let mut partitions: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for path in files {
        let partition = path.parent().unwrap().strip_prefix(data.join("archive")).unwrap().display().to_string();
        partitions.entry(partition).or_default().push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    for files in partitions.values_mut() {
        files.sort();
    }
    partitions.into_iter().collect()
}

fn segments(data: &Path) -> Vec<usize> {
    sluice_index::splits::list_splits(&data.join("index"))
        .unwrap()
        .into_iter()
        .map(|(_, path)| tantivy::Index::open_in_dir(path).unwrap().searchable_segment_ids().unwrap().len())
        .collect()
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn compaction_keeps_every_answer_and_every_reference() {
    let temp = tempfile::tempdir().unwrap();
    let (data, expected) = ingested(temp.path());
    let references = needle_references(&data, &expected);
    let before = answers(&data, &expected, &references, true);
    let accepted = expected["accepted"].as_u64().unwrap();
    assert_eq!(before[0].1.trim(), format!("{{\"count\":{accepted}}}"));
    let partitions_before = files_per_partition(&data);
    let files_before: usize = partitions_before.iter().map(|(_, f)| f.len()).sum();
    assert!(files_before >= 2 * partitions_before.len(), "{files_before} files in {} hours", partitions_before.len());
    let splits = segments(&data).len();
    // Ingest's own merge policy merges segments in the background, as timing
    // allows: some day may be one segment already (and is left as it is),
    // but not every day.
    let to_merge: Vec<usize> = segments(&data).into_iter().filter(|&n| n > 1).collect();
    assert!(!to_merge.is_empty(), "{:?}", segments(&data));

    let compacted = compact(&data, &["--zstd-level", "3"], "");
    assert_eq!(compacted.status.code(), Some(0), "{}", stderr_text(&compacted));
    let summary = stderr_text(&compacted);
    let hours = partitions_before.len();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(
        lines[0],
        format!("compacted {files_before} archive files in {hours} hours into {hours} files, {accepted} rows")
    );
    assert!(lines[1].starts_with("  archive: ") && lines[1].ends_with("%)"), "{summary}");
    let (merged, segments_before) = (to_merge.len(), to_merge.iter().sum::<usize>());
    let day_splits = if merged == 1 { "day split" } else { "day splits" };
    assert_eq!(
        lines[2],
        format!("  index: {merged} {day_splits}, {segments_before} segments -> {merged}"),
        "{summary}"
    );

    // One file an hour, named for the batches it holds; one segment a day.
    let partitions_after = files_per_partition(&data);
    assert_eq!(partitions_after.len(), partitions_before.len());
    for ((partition, before), (_, after)) in partitions_before.iter().zip(&partitions_after) {
        let first = &before[0]["part-".len()..][..20];
        let last = before.last().unwrap()["part-".len()..][..20].to_owned();
        assert_eq!(after, &[format!("part-{first}-{last}.parquet")], "{partition}");
    }
    assert_eq!(segments(&data), vec![1; splits]);
    assert_same(&before, &answers(&data, &expected, &references, true), "after compaction");

    // The compacted files: sorted by service (as their metadata says),
    // then message template, host and time; bloom filters on trace_id and
    // service; the layout version.
    let mut files = Vec::new();
    collect(&data.join("archive"), "parquet", &mut files);
    for path in &files {
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader);
        let group = metadata.row_group(0);
        let sorting: Vec<i32> = group.sorting_columns().unwrap().iter().map(|c| c.column_idx).collect();
        assert_eq!(sorting, [5], "{}", path.display());
        let rows =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|batch| batch.unwrap())
                .flat_map(|batch| {
                    let text = |name: &str| {
                        let column = batch.column_by_name(name).unwrap();
                        let column = column.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
                        column.iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>()
                    };
                    let times =
                        batch.column(0).as_any().downcast_ref::<arrow_array::TimestampNanosecondArray>().unwrap();
                    let (services, messages, hosts) = (text("service"), text("message"), text("host"));
                    (0..batch.num_rows())
                        .map(|i| {
                            let template = sluice_index::fields::template_key(messages[i].as_deref().unwrap_or(""));
                            (services[i].clone(), template, hosts[i].clone(), times.value(i))
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>();
        assert!(rows.is_sorted(), "{} is not in service, template, host, time order", path.display());
        for (index, column) in group.columns().iter().enumerate() {
            let name = column.column_path().string();
            let bloom = column.bloom_filter_offset().is_some();
            assert_eq!(bloom, name == "trace_id" || name == "service", "{name} {index}");
        }
        let layout = metadata.file_metadata().key_value_metadata().unwrap();
        assert!(layout.iter().any(|kv| kv.key == "sluice.archive_layout" && kv.value.as_deref() == Some("3")));
    }

    // Compacting again has nothing to do.
    let again = compact(&data, &[], "");
    assert_eq!(again.status.code(), Some(0), "{}", stderr_text(&again));
    assert_eq!(
        stderr_text(&again),
        "compacted 0 archive files in 0 hours into 0 files, 0 rows\n  archive: 0.0 kB -> 0.0 kB (0%)\n  index: 0 day splits, 0 segments -> 0\n"
    );

    // New batches into compacted hours, compacted in turn: the references
    // of the first compaction still work after the second.
    let more =
        generate_corpus(temp.path(), "more", &["--size", "200KB", "--seed", "6", "--days", "2", "--needles", "0"]).0;
    let ingest = run("sluice-ingest", &["--data-dir", data.to_str().unwrap(), more.to_str().unwrap()], None);
    assert_eq!(ingest.status.code(), Some(0), "{}", stderr_text(&ingest));
    let compacted = compact(&data, &["--zstd-level", "3"], "");
    assert_eq!(compacted.status.code(), Some(0), "{}", stderr_text(&compacted));
    assert!(files_per_partition(&data).iter().all(|(_, files)| files.len() == 1));
    for (reference, (_, context)) in references.iter().zip(&before[before.len() - references.len()..]) {
        let now = ok(&data, &["context", reference, "-B", "0", "-A", "0", "--format", "ndjson"]);
        let event = context.lines().find(|line| now.trim() == *line);
        assert!(event.is_some(), "{reference} now shows {now}");
    }
}

/// Each step of compaction's protocol, and how many passes to let through
/// before it fires: with the batches of [`ingested`], after some hours are
/// compacted, mid-way through the rest.
const CRASH_POINTS: &[(&str, usize)] = &[
    ("compact.archive_staged", 5),
    ("compact.row_map_staged", 5),
    ("compact.archive_published", 5),
    ("compact.inputs_removed", 5),
    ("compact.split_merged", 1),
    ("storage.create", 5),
    ("storage.write", 20),
    ("storage.fsync", 5),
    ("storage.rename", 5),
    ("storage.sync_dir", 9),
    ("storage.delete", 30),
    ("split.create", 10),
    ("split.atomic_write", 1),
    ("split.delete", 3),
];

/// A compaction killed at each step leaves every reader's answer as it
/// was, before any recovery; the next run finishes the job, and nothing is
/// lost, duplicated or left staged.
#[test]
fn a_crash_at_every_step_of_compaction_loses_and_duplicates_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let (template, expected) = ingested(temp.path());
    let before = answers(&template, &expected, &[], false);
    for (point, passes) in CRASH_POINTS {
        let data = temp.path().join(format!("crash-{point}"));
        copy_dir(&template, &data);
        let crashed = compact(&data, &["--zstd-level", "1"], &format!("{point}={passes}*off->return(kill)"));
        assert_eq!(crashed.status.signal(), Some(9), "{point}: did not crash: {}", stderr_text(&crashed));
        assert_same(&before, &answers(&data, &expected, &[], false), &format!("killed at {point}"));

        let finished = compact(&data, &["--zstd-level", "1"], "");
        assert_eq!(finished.status.code(), Some(0), "{point}: {}", stderr_text(&finished));
        assert_same(&before, &answers(&data, &expected, &[], false), &format!("compacted after a kill at {point}"));
        let mut staged = Vec::new();
        collect(&data, "tmp", &mut staged);
        assert!(staged.is_empty(), "{point}: left {staged:?}");
        assert!(files_per_partition(&data).iter().all(|(_, files)| files.len() == 1), "{point}");
        assert!(segments(&data).iter().all(|&n| n == 1), "{point}");
        // One row map per compacted file, none left over.
        let mut maps = Vec::new();
        collect(&data.join("index/rowmaps"), "rowmap", &mut maps);
        assert_eq!(maps.len(), files_per_partition(&data).len(), "{point}: {maps:?}");
    }
}

/// Readers running while compaction runs see every record once.
#[test]
fn readers_during_compaction_see_every_record_once() {
    let temp = tempfile::tempdir().unwrap();
    let (data, expected) = ingested(temp.path());
    let before = answers(&data, &expected, &[], false);
    let compactor = {
        let data = data.clone();
        std::thread::spawn(move || compact(&data, &["--zstd-level", "9"], ""))
    };
    let mut rounds = 0;
    while !compactor.is_finished() || rounds == 0 {
        assert_same(&before, &answers(&data, &expected, &[], false), &format!("round {rounds} during compaction"));
        rounds += 1;
    }
    let compacted = compactor.join().unwrap();
    assert_eq!(compacted.status.code(), Some(0), "{}", stderr_text(&compacted));
    assert_same(&before, &answers(&data, &expected, &[], false), "after compaction");
    eprintln!("{rounds} rounds of reads during compaction");
}

/// A long `sluice-ingest` run (here a pipe that writes now and then)
/// compacts the hours nothing has been written to for `--compact-after`,
/// in the background, while it goes on ingesting and readers read.
#[test]
fn a_long_run_compacts_quiet_hours_in_the_background() {
    let temp = tempfile::tempdir().unwrap();
    let (corpus, expected) =
        generate_corpus(temp.path(), "corpus", &["--size", "300KB", "--seed", "8", "--days", "1", "--malformed", "0"]);
    let lines: Vec<String> = std::fs::read_to_string(&corpus).unwrap().lines().map(str::to_owned).collect();
    let accepted = expected["accepted"].as_u64().unwrap() as usize;
    assert_eq!(accepted, lines.iter().filter(|line| !line.trim().is_empty()).count());
    let data = temp.path().join("data");
    let mut child = Command::new(binary("sluice-ingest"))
        .args(["--data-dir", data.to_str().unwrap(), "--commit-interval", "100ms", "--compact-after", "1s"])
        .args(["--compact-zstd-level", "3"])
        .current_dir(workspace())
        .env_remove("SLUICE_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let count = || -> usize {
        let output = sluice(&data, &["count", "*", "--format", "json"]);
        if output.status.code() == Some(2) && stderr_text(&output).contains("no data in") {
            return 0; // nothing committed yet
        }
        assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["count"].as_u64().unwrap() as usize
    };
    // The first three quarters, in four writes a commit apart: several
    // files in most hours.
    let first = lines.len() * 3 / 4;
    let mut sent = 0;
    for piece in lines[..first].chunks(first.div_ceil(4)) {
        use std::io::Write;
        stdin.write_all((piece.join("\n") + "\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        sent += piece.len();
        let started = std::time::Instant::now();
        while count() < sent && started.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let several = files_per_partition(&data).iter().filter(|(_, files)| files.len() > 1).count();
    assert!(several > 0, "{:?}", files_per_partition(&data));
    // Quiet for a second: the run compacts every hour, with stdin still open.
    let started = std::time::Instant::now();
    loop {
        let partitions = files_per_partition(&data);
        let compacted = partitions.iter().all(|(_, files)| files.len() == 1 && files[0].matches('-').count() == 2);
        if compacted {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "not compacted: {partitions:?}");
        assert_eq!(count(), first);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let all = ok(&data, &["search", "*", "--oldest-first", "--limit", "1000000", "--format", "ndjson"]);
    assert_eq!(all.lines().count(), first);
    // The rest, then the end of input: every record once.
    {
        use std::io::Write;
        stdin.write_all((lines[first..].join("\n") + "\n").as_bytes()).unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(count(), accepted);
    let all = ok(&data, &["search", "*", "--oldest-first", "--limit", "1000000", "--format", "ndjson"]);
    assert_eq!(all.lines().count(), accepted);
    let sql = ok(&data, &["sql", "SELECT count(*) AS n FROM logs", "--format", "csv"]);
    assert_eq!(sql, format!("n\n{accepted}\n"));
}
