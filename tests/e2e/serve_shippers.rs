//! `sluice-ingest serve` fed by shippers no one here wrote: the official
//! Elasticsearch and OpenTelemetry Python clients, and rsyslog's
//! `omelasticsearch`, all installed by `.ci/run`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::serve::{Server, count, wait_for_count};

/// The official Elasticsearch Python client (`helpers.bulk`) and the
/// OpenTelemetry Python SDK's OTLP/HTTP exporter, installed by `.ci/run`
/// (`pip install elasticsearch opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`).
#[test]
fn real_clients_ship_and_every_record_is_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "0123456789abcdef0123\n").unwrap();
    let server = Server::start(&data, &["--token-file", tokens.to_str().unwrap()]);
    let url = server.url("");
    let args: [&std::ffi::OsStr; 3] = [url.as_ref(), "0123456789abcdef0123".as_ref(), "500".as_ref()];
    let packages = "elasticsearch opentelemetry-sdk opentelemetry-exporter-otlp-proto-http";
    let stdout = crate::run_python("ship_with_clients.py", &args, packages);
    assert_eq!(stdout, "ok elasticsearch helpers.bulk 500\nok opentelemetry otlp/http 500\n");
    wait_for_count(&data, "*", 1000, Duration::from_secs(2));
    assert_eq!(count(&data, "service:es-client"), 500);
    assert_eq!(count(&data, "service:es-client AND level:warn"), 50);
    assert_eq!(count(&data, "service:es-client AND order_id:499"), 1);
    assert_eq!(count(&data, "service:otel-client AND host:otel-host"), 500);
    assert_eq!(count(&data, "service:otel-client AND level:error"), 50);
    assert_eq!(count(&data, "\"otel record 499\""), 1);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1000 lines read: 1000 accepted, 0 rejected, 0 blank"), "{stderr}");
}

/// rsyslog (Debian's `rsyslog` and `rsyslog-elasticsearch`, installed by
/// `.ci/run`) tails two files with `imfile` and ships them with
/// `omelasticsearch` in bulk mode, authenticated with the token as the Basic
/// password, using the template the README gives.
#[test]
fn rsyslog_omelasticsearch_ships_files_and_every_line_is_searchable() {
    let rsyslogd = find_rsyslogd();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "rsyslog-token-0123456789\n").unwrap();
    let server = Server::start(&data, &["--token-file", tokens.to_str().unwrap()]);
    let port = server.url("").rsplit(':').next().unwrap().to_owned();

    // Quotes, backslashes and UTF-8 must survive rsyslog's JSON escaping.
    let web: String = (1..=200).map(|i| format!("GET /item/{i} 200 \"quoted\" back\\slash café\n")).collect();
    let db: String = (1..=100).map(|i| format!("query {i} failed: deadlock detected\n")).collect();
    std::fs::write(dir.path().join("web.log"), web).unwrap();
    std::fs::write(dir.path().join("db.log"), db).unwrap();
    let work = dir.path().join("rsyslog");
    std::fs::create_dir(&work).unwrap();
    let config = dir.path().join("rsyslog.conf");
    std::fs::write(&config, rsyslog_config(dir.path(), &work, &port, "rsyslog-token-0123456789")).unwrap();
    let rsyslog = Rsyslog(
        Command::new(rsyslogd)
            .args(["-n", "-f"])
            .arg(&config)
            .arg("-i")
            .arg(dir.path().join("rsyslog.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd"),
    );

    wait_for_count(&data, "*", 300, Duration::from_secs(30));
    drop(rsyslog);
    assert_eq!(count(&data, "service:web AND level:info AND producer:ecs"), 200);
    assert_eq!(count(&data, "service:db AND level:error"), 100);
    assert_eq!(count(&data, "\"item 137\""), 1);
    assert_eq!(count(&data, "\"\\\"quoted\\\" back\\\\slash café\""), 200);
    assert_eq!(count(&data, "deadlock"), 100);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("300 lines read: 300 accepted, 0 rejected, 0 blank"), "{stderr}");
}

/// The README's rsyslog snippet, read from the README so that it stays
/// true, after two file inputs and a work directory, with the test's port
/// and token.
fn rsyslog_config(dir: &Path, work: &Path, port: &str, token: &str) -> String {
    let readme = std::fs::read_to_string(crate::workspace().join("README.md")).unwrap();
    let start = readme.find("module(load=\"omelasticsearch\")").expect("the README's rsyslog snippet");
    let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
    assert!(snippet.contains("serverport=\"7280\"") && snippet.contains("pwd=\"TOKEN\""), "{snippet}");
    let snippet = snippet.replace("serverport=\"7280\"", &format!("serverport=\"{port}\"")).replace("TOKEN", token);
    let (dir, work) = (dir.display(), work.display());
    format!(
        r#"global(workDirectory="{work}")
module(load="imfile")
input(type="imfile" File="{dir}/web.log" Tag="web" Severity="info")
input(type="imfile" File="{dir}/db.log" Tag="db" Severity="err")
{snippet}"#
    )
}

fn find_rsyslogd() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join("rsyslogd")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/rsyslogd")])
        .find(|path| path.is_file())
        .expect("rsyslog is needed for this test: apt-get install rsyslog rsyslog-elasticsearch")
}

/// A running rsyslogd, stopped when dropped.
struct Rsyslog(Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
