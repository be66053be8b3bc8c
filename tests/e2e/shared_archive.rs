//! The shared archive (`--archive URL`): several data directories copy their
//! archives to one prefix as they commit, compact and expire, each writing
//! only its own files, and `sluice sql --archive URL` reads the union, each
//! record once. Here the prefix is a directory; `tests/interop/s3_archive.py`
//! runs the same on an S3 server (moto).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{binary, generate_corpus, run, stderr_text, workspace};

/// `sluice sql` (CSV, no header row) over a data directory or, with
/// `--archive`, a shared archive.
fn sql(target: &[&str], statement: &str) -> Vec<String> {
    let mut args = vec!["sql", statement, "--format", "csv"];
    args.extend_from_slice(target);
    let output = run("sluice", &args, None);
    assert_eq!(output.status.code(), Some(0), "{statement}: {}", stderr_text(&output));
    String::from_utf8(output.stdout).unwrap().lines().skip(1).map(str::to_owned).collect()
}

const TOTALS: &str = "SELECT count(*) AS n, min(timestamp) AS first, max(timestamp) AS last, \
                      count(DISTINCT timestamp) AS instants FROM logs";
const BY_DAY: &str = "SELECT date, count(*) AS n FROM logs GROUP BY date ORDER BY date";

/// The archive files under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    crate::collect(dir, "parquet", &mut found);
    let mut names: Vec<String> =
        found.iter().map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn writer_of(name: &str) -> &str {
    name.strip_suffix(".parquet").and_then(|stem| stem.rsplit_once('.')).map_or("", |(_, writer)| writer)
}

#[test]
fn ingesters_share_one_archive_and_sql_reads_the_union_once_through_compaction_and_retention() {
    let temp = tempfile::tempdir().unwrap();
    let shared = temp.path().join("shared");
    let shared_arg = ["--archive", shared.to_str().unwrap()];
    let mut data_dirs: Vec<PathBuf> = Vec::new();
    let mut ingests = Vec::new();
    // Two ingesters, each with its own data directory, at the same time.
    for (name, seed, size) in [("a", "31", "400KB"), ("b", "32", "300KB")] {
        let (corpus, _) =
            generate_corpus(temp.path(), name, &["--size", size, "--seed", seed, "--days", "3", "--malformed", "0"]);
        let data = temp.path().join(name);
        let child = Command::new(binary("sluice-ingest"))
            .args(["--data-dir", data.to_str().unwrap(), "--batch-bytes", "60000", "--compact-after", "off"])
            .args(shared_arg)
            .arg(&corpus)
            .current_dir(workspace())
            .env_remove("SLUICE_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        data_dirs.push(data);
        ingests.push(child);
    }
    for child in ingests {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
        // Every file went up before the run said it was done.
        assert!(stderr_text(&output).contains("\n  shared archive: "), "{}", stderr_text(&output));
    }
    let [a, b] = [&data_dirs[0], &data_dirs[1]];
    let a_dir = ["--data-dir", a.to_str().unwrap()];
    let b_dir = ["--data-dir", b.to_str().unwrap()];

    // Each file carries its writer, the name its data directory keeps.
    let writers: Vec<String> =
        data_dirs.iter().map(|d| std::fs::read_to_string(d.join("archive-writer")).unwrap()).collect();
    assert_ne!(writers[0], writers[1]);
    let shared_files = files(&shared);
    for (dir, writer) in data_dirs.iter().zip(&writers) {
        let own: Vec<String> = shared_files
            .iter()
            .filter(|name| writer_of(name) == writer)
            .map(|name| name.replace(&format!(".{writer}.parquet"), ".parquet"))
            .collect();
        assert_eq!(own, files(&dir.join("archive")), "{writer}");
    }
    assert_eq!(shared_files.iter().filter(|name| writer_of(name).is_empty()).count(), 0, "{shared_files:?}");
    assert!(shared.join("_sluice_layout.json").is_file());

    // The union: counts add up, times are the extremes of both, and the
    // per-day counts are the sums.
    let union = |target: &[&str]| (sql(target, TOTALS), sql(target, BY_DAY));
    let check_union = |when: &str| {
        let (totals_a, days_a) = union(&a_dir);
        let (totals_b, days_b) = union(&b_dir);
        let (totals, days) = union(&shared_arg);
        let fields = |line: &str| line.split(',').map(str::to_owned).collect::<Vec<_>>();
        let (ta, tb, t) = (fields(&totals_a[0]), fields(&totals_b[0]), fields(&totals[0]));
        let n = |f: &[String]| f[0].parse::<u64>().unwrap();
        assert_eq!(n(&t), n(&ta) + n(&tb), "{when}: {totals:?} {totals_a:?} {totals_b:?}");
        assert_eq!(t[1], ta[1].clone().min(tb[1].clone()), "{when}");
        assert_eq!(t[2], ta[2].clone().max(tb[2].clone()), "{when}");
        let mut by_day = std::collections::BTreeMap::<String, u64>::new();
        for line in days_a.iter().chain(&days_b) {
            let (day, count) = line.split_once(',').unwrap();
            *by_day.entry(day.to_owned()).or_default() += count.parse::<u64>().unwrap();
        }
        let expected: Vec<String> = by_day.iter().map(|(day, n)| format!("{day},{n}")).collect();
        assert_eq!(days, expected, "{when}");
        n(&t)
    };
    let total = check_union("after ingest");

    // `a` compacts: the shared archive follows, its hours one file each.
    let compacted =
        run("sluice-ingest", &[&["compact", "--zstd-level", "3"][..], &a_dir[..], &shared_arg[..]].concat(), None);
    assert_eq!(compacted.status.code(), Some(0), "{}", stderr_text(&compacted));
    assert!(stderr_text(&compacted).contains("  shared archive: "), "{}", stderr_text(&compacted));
    let a_files: Vec<String> = files(&shared).into_iter().filter(|name| writer_of(name) == writers[0]).collect();
    assert!(a_files.iter().all(|name| name.contains("/part-") && name.matches('-').count() >= 2), "{a_files:?}");
    assert_eq!(a_files.len(), files(&a.join("archive")).len(), "one compacted file per hour in both: {a_files:?}");
    assert_eq!(check_union("after compaction"), total);

    // `b` drops its first day: so does the shared archive, and nothing of `a`.
    let retained = run(
        "sluice-ingest",
        &[&["compact", "--retention", "2d", "--now", "2024-03-04T00:00:00Z"][..], &b_dir[..], &shared_arg[..]].concat(),
        None,
    );
    assert_eq!(retained.status.code(), Some(0), "{}", stderr_text(&retained));
    assert!(stderr_text(&retained).starts_with("dropped 2024-03-01"), "{}", stderr_text(&retained));
    assert!(
        !files(&shared).iter().any(|name| name.starts_with("date=2024-03-01/") && writer_of(name) == writers[1]),
        "{:?}",
        files(&shared)
    );
    assert!(files(&shared).iter().any(|name| name.starts_with("date=2024-03-01/") && writer_of(name) == writers[0]));
    let after = check_union("after retention");
    assert!(after < total, "{after} of {total}");
}

#[test]
fn a_bad_archive_url_is_refused_with_what_is_expected() {
    let output = run("sluice-ingest", &["--data-dir", "/nonexistent", "--archive", "gs://bucket/logs"], Some(b""));
    assert_eq!(output.status.code(), Some(2), "{}", stderr_text(&output));
    assert!(
        stderr_text(&output).contains(
            "`gs://bucket/logs` is not an archive location: expected s3://BUCKET[/PREFIX], file:///PATH or a directory path (only s3:// and file:// are supported)"
        ),
        "{}",
        stderr_text(&output)
    );
}

/// On S3 (a moto server the script starts): ingest, compact and retention
/// through `--archive s3://…`, read back by `sluice sql --archive`, DuckDB's
/// httpfs and pyarrow's S3 filesystem, all agreeing with the data directory.
#[test]
fn an_s3_archive_is_read_back_by_sluice_duckdb_and_pyarrow() {
    let temp = tempfile::tempdir().unwrap();
    let (corpus, _) =
        generate_corpus(temp.path(), "corpus", &["--size", "300KB", "--seed", "33", "--days", "3", "--malformed", "0"]);
    let expected = temp.path().join("corpus.expected.json");
    let bin_dir = binary("sluice-ingest").parent().unwrap().to_owned();
    let packages = "moto[server] boto3 duckdb duckdb-extension-httpfs pyarrow";
    let args = [bin_dir.as_os_str(), temp.path().as_os_str(), corpus.as_os_str(), expected.as_os_str()];
    let stdout = crate::run_python("s3_archive.py", &args, packages);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 18, "{stdout}");
}

fn sluice_ok(args: &[&str]) -> String {
    let output = run("sluice", args, None);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_text(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// `sluice --data-dir A --data-dir B`: several ingesters' data directories
/// searched as one corpus: hits merged by time, counts added up, references
/// into the second directory prefixed with its position.
#[test]
fn several_data_dirs_are_queried_as_one_corpus() {
    let temp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for (name, seed, size) in [("a", "41", "300KB"), ("b", "42", "200KB")] {
        let (corpus, _) =
            generate_corpus(temp.path(), name, &["--size", size, "--seed", seed, "--days", "2", "--malformed", "0"]);
        let data = temp.path().join(name);
        let ingest = run("sluice-ingest", &["--data-dir", data.to_str().unwrap(), corpus.to_str().unwrap()], None);
        assert_eq!(ingest.status.code(), Some(0), "{}", stderr_text(&ingest));
        dirs.push(data.to_str().unwrap().to_owned());
    }
    let a = ["--data-dir", dirs[0].as_str()];
    let b = ["--data-dir", dirs[1].as_str()];
    let both = ["--data-dir", dirs[0].as_str(), "--data-dir", dirs[1].as_str()];
    let with = |dirs: &[&str], args: &[&str]| sluice_ok(&[dirs, args].concat());

    // Counts add up, overall and by service.
    let count = |dirs: &[&str]| json(&with(dirs, &["count", "*", "--by", "service", "--format", "json"]));
    let (ca, cb, cab) = (count(&a), count(&b), count(&both));
    assert_eq!(cab["count"].as_u64().unwrap(), ca["count"].as_u64().unwrap() + cb["count"].as_u64().unwrap());
    let by_service = |value: &serde_json::Value| -> std::collections::BTreeMap<String, u64> {
        value["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|bucket| (bucket["value"].to_string(), bucket["count"].as_u64().unwrap()))
            .collect()
    };
    let mut summed = by_service(&ca);
    for (service, n) in by_service(&cb) {
        *summed.entry(service).or_default() += n;
    }
    assert_eq!(by_service(&cab), summed);

    // Every record once, merged by time, oldest first and newest first.
    let records = |dirs: &[&str], extra: &[&str]| -> Vec<String> {
        with(dirs, &[&["search", "*", "--format", "ndjson"][..], extra].concat()).lines().map(str::to_owned).collect()
    };
    let all = ["--oldest-first", "--limit", "100000"];
    let mut union = records(&a, &all);
    union.extend(records(&b, &all));
    let merged = records(&both, &all);
    let time = |line: &String| json(line)["timestamp"].as_str().unwrap().to_owned();
    assert!(merged.windows(2).all(|w| time(&w[0]) <= time(&w[1])), "not in time order");
    let mut sorted_union = union.clone();
    sorted_union.sort();
    let mut sorted_merged = merged.clone();
    sorted_merged.sort();
    assert_eq!(sorted_merged, sorted_union);
    let newest = records(&both, &["--limit", "7"]);
    let mut by_time: Vec<&String> = union.iter().collect();
    by_time.sort_by_key(|line| std::cmp::Reverse(time(line)));
    assert_eq!(newest.iter().map(time).collect::<Vec<_>>(), by_time[..7].iter().map(|l| time(l)).collect::<Vec<_>>());

    // References into `b` carry its position, and `context` finds them.
    let table = with(&both, &["search", "*", "--limit", "100000"]);
    let second: Vec<&str> =
        table.lines().skip(1).filter_map(|line| line.split_whitespace().find(|w| w.starts_with("1/"))).collect();
    assert_eq!(second.len() as u64, cb["count"].as_u64().unwrap(), "one `1/` reference per record of b");
    let reference = second[second.len() / 2];
    let event = |dirs: &[&str], reference: &str| -> serde_json::Value {
        let lines = with(dirs, &["context", reference, "--before", "0", "--after", "0", "--format", "ndjson"]);
        json(lines.lines().next().unwrap())
    };
    assert_eq!(event(&both, reference), event(&b, reference.trim_start_matches("1/")));
    let unknown = run("sluice", &[&both[..], &["context", "2/474792:1:0"]].concat(), None);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr_text(&unknown));

    // `stats` describes each; `sql` points at the shared archive.
    assert_eq!(with(&both, &["stats", "--format", "json"]).lines().count(), 2);
    let sql = run("sluice", &[&both[..], &["sql", "SELECT 1"]].concat(), None);
    assert_eq!(sql.status.code(), Some(2), "{}", stderr_text(&sql));
    assert!(stderr_text(&sql).contains("sql reads one data directory's archive"), "{}", stderr_text(&sql));
}

/// `serve --archive`: what the server commits is in the shared archive
/// within seconds, while it runs, and all of it once it has stopped.
#[test]
fn a_server_uploads_what_it_commits_while_it_runs() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let shared = temp.path().join("shared");
    let server = crate::serve::Server::start(&data, &["--archive", shared.to_str().unwrap()]);
    let body: String = (0..50)
        .map(|i| {
            format!("{{\"time\":\"2024-03-01T10:{:02}:00Z\",\"level\":\"info\",\"msg\":\"request {i}\"}}\n", i % 60)
        })
        .collect();
    let (status, answer) = server.post_json("/api/v1/ingest?service=web", &[], body.as_bytes());
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(50)), "{answer}");
    let started = std::time::Instant::now();
    while files(&shared).is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "nothing uploaded within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    eprintln!("uploaded after {:?}", started.elapsed());
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("\n  shared archive: "), "{stderr}");
    let local = files(&data.join("archive"));
    let uploaded: Vec<String> = files(&shared)
        .iter()
        .map(|name| format!("{}.parquet", name.strip_suffix(".parquet").unwrap().rsplit_once('.').unwrap().0))
        .collect();
    assert_eq!(uploaded, local);
    assert_eq!(sql(&["--archive", shared.to_str().unwrap()], "SELECT count(*) FROM logs"), ["50"]);
}
