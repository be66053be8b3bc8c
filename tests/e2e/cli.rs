//! Terminal conventions of both binaries: `--color`, `NO_COLOR` and
//! `CLICOLOR_FORCE`; shell completions and man pages; a closed pipe;
//! `--version` naming the commit; `sluice sql` without its engine.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::{binary, generate_corpus, stderr_text, workspace};

/// Runs a binary with `args` and `env` set, and CLICOLOR_FORCE, NO_COLOR and
/// CLICOLOR cleared unless `env` sets them.
fn run_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary(name));
    command.args(args).current_dir(workspace()).env_remove("SLUICE_DATA_DIR");
    for var in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "COLUMNS"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).stdin(Stdio::null());
    command.output().unwrap()
}

/// The bundled producer samples ingested into `dir`.
fn producers(dir: &Path) -> String {
    let data = dir.join("data").display().to_string();
    let mut args = vec!["--data-dir".to_owned(), data.clone()];
    for entry in std::fs::read_dir(workspace().join("fixtures/producers")).unwrap() {
        args.push(entry.unwrap().path().display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ingested = run_env("sluice-ingest", &args, &[]);
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    data
}

const ESC: &str = "\x1b[";

#[test]
fn color_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = producers(dir.path());
    let search = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["--data-dir", &data, "search", "level:error", "--limit", "2"];
        args.extend(extra);
        let output = run_env("sluice", &args, env);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    // Not a terminal, nothing set: plain.
    let plain = search(&[], &[]);
    assert!(plain.starts_with("TIME  ") && !plain.contains(ESC), "{plain:?}");
    // --color always: a bold header and errors in bold red, the same text otherwise.
    let colored = search(&["--color", "always"], &[]);
    assert!(colored.starts_with("\x1b[1mTIME  "), "{colored:?}");
    assert!(colored.contains("\x1b[1;31merror\x1b[0m"), "{colored:?}");
    assert_eq!(strip_ansi(&colored), plain);
    // CLICOLOR_FORCE colours a pipe; NO_COLOR wins over it; the flag wins over both.
    assert_eq!(search(&[], &[("CLICOLOR_FORCE", "1")]), colored);
    assert_eq!(search(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), plain);
    assert_eq!(search(&["--color", "always"], &[("NO_COLOR", "1")]), colored);
    assert_eq!(search(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]), plain);
    // The flag is global: before the command too.
    let before =
        run_env("sluice", &["--color", "always", "--data-dir", &data, "search", "level:error", "--limit", "2"], &[]);
    assert_eq!(String::from_utf8(before.stdout).unwrap(), colored);

    // Charts: coloured blocks, or distinct glyphs without colour.
    let histogram = |env: &[(&str, &str)]| {
        let args = ["--data-dir", &data, "histogram", "*", "--by", "level", "--interval", "1d"];
        String::from_utf8(run_env("sluice", &args, env).stdout).unwrap()
    };
    assert!(!histogram(&[]).contains(ESC));
    assert!(histogram(&[("CLICOLOR_FORCE", "1")]).contains("\x1b[1;31m█"));
    assert!(!histogram(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains(ESC));

    // Error labels on stderr, in each binary.
    let bad_query = ["--data-dir", &data, "search", "level:(", "--color", "always"];
    let error = stderr_text(&run_env("sluice", &bad_query, &[]));
    assert!(error.starts_with("sluice: \x1b[1;31merror\x1b[0m: invalid query `level:(`"), "{error:?}");
    let error = stderr_text(&run_env("sluice", &bad_query[..4], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]));
    assert!(error.starts_with("sluice: error: invalid query `level:(`"), "{error:?}");
    let bad_sql = ["--data-dir", &data, "sql", "SELECT nope FROM logs", "--color", "always"];
    let error = stderr_text(&run_env("sluice", &bad_sql, &[]));
    assert!(error.starts_with("sluice: \x1b[1;31merror\x1b[0m: sql: "), "{error:?}");
    let error = stderr_text(&run_env("sluice", &bad_sql[..4], &[("CLICOLOR_FORCE", "1")]));
    assert!(error.starts_with("sluice: \x1b[1;31merror\x1b[0m: sql: "), "{error:?}");
    let missing = dir.path().join("missing.ndjson");
    let missing = missing.to_str().unwrap();
    let error = stderr_text(&run_env("sluice-ingest", &["--dry-run", "--color", "always", missing], &[]));
    assert!(error.starts_with("sluice-ingest: \x1b[1;31merror\x1b[0m: "), "{error:?}");
    let error = stderr_text(&run_env("sluice-ingest", &["--dry-run", missing], &[("CLICOLOR_FORCE", "1")]));
    assert!(error.starts_with("sluice-ingest: \x1b[1;31merror\x1b[0m: "), "{error:?}");
    let error = stderr_text(&run_env("sluice-ingest", &["--dry-run", missing], &[]));
    assert!(error.starts_with("sluice-ingest: error: ") && !error.contains(ESC), "{error:?}");

    let bad_flag = run_env("sluice", &["--color", "sometimes", "stats"], &[]);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(
        stderr_text(&bad_flag).contains("invalid value 'sometimes' for '--color <WHEN>'"),
        "{}",
        stderr_text(&bad_flag)
    );
}

/// `text` without its ANSI SGR sequences.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(ESC) {
        plain.push_str(&rest[..start]);
        let after = &rest[start + ESC.len()..];
        rest = after.find('m').map_or("", |end| &after[end + 1..]);
    }
    plain.push_str(rest);
    plain
}

#[test]
fn completions_complete_commands_and_flags_in_bash_and_generate_for_zsh_and_fish() {
    for program in ["sluice", "sluice-ingest"] {
        let dir = tempfile::tempdir().unwrap();
        let function = format!("_{}", program.replace('-', "__"));
        for shell in ["bash", "zsh", "fish"] {
            let output = run_env(program, &["completions", shell], &[]);
            assert_eq!(output.status.code(), Some(0), "{program} {shell}: {}", stderr_text(&output));
            let script = String::from_utf8(output.stdout).unwrap();
            let looks_right = match shell {
                "bash" => script.starts_with(&format!("{function}() {{\n")),
                "zsh" => script.starts_with(&format!("#compdef {program}\n")),
                _ => script.contains(&format!("\ncomplete -c {program} -n ")),
            };
            assert!(looks_right, "{program} {shell}: {}", &script[..300.min(script.len())]);
            std::fs::write(dir.path().join(shell), script).unwrap();
        }
        // The bash script completes, as bash would call it on <Tab>.
        let complete = |words: &str| {
            let script = format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); \
                 COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; {function} {program} \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                dir.path().join("bash").display(),
            );
            let output = Command::new("bash").arg("-c").arg(script).output().unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).unwrap()
        };
        if program == "sluice" {
            assert_eq!(complete("sluice hist"), "histogram\n");
            assert_eq!(complete("sluice search x --col"), "--color\n");
            assert_eq!(complete("sluice --color al"), "always\n");
            assert_eq!(complete("sluice completions f"), "fish\n");
        } else {
            assert_eq!(complete("sluice-ingest se"), "serve\n");
            // After a subcommand too (clap-rs/clap#6421: see sluice-ingest's `completions`).
            assert_eq!(complete("sluice-ingest serve --wal-dam"), "--wal-damage\n");
            assert_eq!(complete("sluice-ingest serve --wal-damage sk"), "skip\n");
        }
    }
}

#[test]
fn man_pages_are_generated_for_each_command() {
    let page = run_env("sluice", &["man"], &[]);
    assert_eq!(page.status.code(), Some(0));
    let page = String::from_utf8(page.stdout).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{}", &page[..100]);
    assert!(page.contains(".TH sluice 1 "), "{page}");
    assert!(page.contains("sluice \\- Search, count and chart logs ingested by sluice\\-ingest"), "{page}");
    assert!(page.contains("sluice\\-search(1)"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for program in ["sluice", "sluice-ingest"] {
        let written = run_env(program, &["man", "--out-dir", out], &[]);
        assert_eq!(written.status.code(), Some(0), "{}", stderr_text(&written));
    }
    let mut pages: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    pages.sort();
    let commands = [
        "compare",
        "completions",
        "context",
        "count",
        "fields",
        "histogram",
        "man",
        "patterns",
        "search",
        "serve",
        "sql",
        "stats",
        "tail",
        "top",
        "trace",
    ];
    let mut expected: Vec<String> = vec!["sluice.1".to_owned()];
    expected.extend(commands.iter().map(|c| format!("sluice-{c}.1")));
    expected.extend(
        [
            "sluice-ingest.1",
            "sluice-ingest-compact.1",
            "sluice-ingest-completions.1",
            "sluice-ingest-man.1",
            "sluice-ingest-replay.1",
            "sluice-ingest-serve.1",
        ]
        .map(String::from),
    );
    expected.sort();
    assert_eq!(pages, expected);
    let search = std::fs::read_to_string(dir.path().join("sluice-search.1")).unwrap();
    assert!(search.contains(".TH sluice-search 1 "), "{search}");
    assert!(search.contains("\\-\\-oldest\\-first"), "{search}");
    let serve = std::fs::read_to_string(dir.path().join("sluice-ingest-serve.1")).unwrap();
    assert!(serve.contains("\\-\\-token\\-file"), "{serve}");
}

#[test]
fn a_closed_pipe_ends_each_command_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    // More output than a pipe holds (64 KiB), so that writes meet the closed pipe.
    let (corpus, _) = generate_corpus(dir.path(), "pipe", &["--size", "2MB", "--seed", "3"]);
    let data = dir.path().join("data");
    let ingested = run_env("sluice-ingest", &["--data-dir", data.to_str().unwrap(), corpus.to_str().unwrap()], &[]);
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    let sluice = binary("sluice").display().to_string();
    let ingest = binary("sluice-ingest").display().to_string();
    let data = data.display().to_string();
    let corpus = corpus.display().to_string();
    for pipeline in [
        format!("{sluice} --data-dir {data} search '*' --limit 100000"),
        format!("{sluice} --data-dir {data} search '*' --limit 100000 --format ndjson"),
        format!("{sluice} --data-dir {data} tail -n 100000"),
        format!("{sluice} --data-dir {data} sql 'SELECT * FROM logs' --format csv"),
        format!("{ingest} --dry-run {corpus}"),
    ] {
        // pipefail: the status is the first command's, not head's.
        let script = format!("set -o pipefail; {pipeline} | head -n 1 >/dev/null");
        let output = Command::new("bash").arg("-c").arg(&script).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{pipeline}: {}", String::from_utf8_lossy(&output.stderr));
        assert_quiet(&String::from_utf8_lossy(&output.stderr), &pipeline);
    }
}

#[test]
fn output_into_a_pipe_already_closed_ends_quietly_with_exit_0() {
    // A pipe whose reader is gone before the command starts: its first
    // write fails, however little it prints (`| head` may read all of a
    // short output before it exits).
    let dir = tempfile::tempdir().unwrap();
    let data = producers(dir.path());
    let cases: [(&str, Vec<&str>); 8] = [
        ("sluice", vec!["completions", "bash"]),
        ("sluice", vec!["completions", "fish"]),
        ("sluice", vec!["man"]),
        ("sluice", vec!["--data-dir", &data, "search", "*"]),
        ("sluice", vec!["--data-dir", &data, "sql", "SELECT level FROM logs", "--format", "csv"]),
        ("sluice-ingest", vec!["completions", "zsh"]),
        ("sluice-ingest", vec!["man"]),
        ("sluice-ingest", vec!["--dry-run", "fixtures/producers/pino.ndjson"]),
    ];
    for (program, args) in cases {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(binary(program))
            .args(&args)
            .current_dir(workspace())
            .env_remove("SLUICE_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{program} {args:?}: {}", stderr_text(&output));
        assert_quiet(&stderr_text(&output), &format!("{program} {args:?}"));
    }
}

/// Nothing on stderr, except `sluice-ingest`'s account of what it read
/// (the lines before the pipe closed, and the rejected ones among them).
fn assert_quiet(stderr: &str, command: &str) {
    let quiet = if !stderr.is_empty() && command.contains("sluice-ingest") {
        let account = stderr.lines().position(|line| line.contains(" lines read: "));
        account.is_some_and(|at| stderr.lines().skip(at + 1).all(|line| line.starts_with("  rejected ")))
            && !stderr.contains("error")
    } else {
        stderr.is_empty()
    };
    assert!(quiet, "{command}: {stderr}");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(workspace()).output();
    let head = head.ok().filter(|o| o.status.success()).map(|o| String::from_utf8(o.stdout).unwrap());
    for program in ["sluice", "sluice-ingest", "sluice-sql"] {
        let output = run_env(program, &["--version"], &[]);
        assert_eq!(output.status.code(), Some(0));
        let version = String::from_utf8(output.stdout).unwrap();
        let prefix = format!("{program} {} (commit ", env!("CARGO_PKG_VERSION"));
        assert!(version.starts_with(&prefix) && version.ends_with(")\n"), "{version:?}");
        let commit = version[prefix.len()..version.len() - 2].trim_end_matches("-modified");
        assert_eq!(commit.len(), 12, "{version:?}");
        assert!(commit.bytes().all(|b| b.is_ascii_hexdigit()), "{version:?}");
        if let Some(head) = &head {
            assert_eq!(commit, head.trim(), "{program} was built from another commit than HEAD: rebuild it");
        }
    }
}

#[test]
fn sql_without_its_engine_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("sluice");
    std::fs::copy(binary("sluice"), &alone).unwrap();
    let output = Command::new(&alone)
        .args(["--data-dir", "nowhere", "sql", "SELECT 1"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_text(&output),
        format!(
            "sluice: error: `sluice sql` runs the sluice-sql program (SQL is built apart, so that the other commands \
             build in minutes), which is neither in {} (beside sluice) nor on PATH: install it with `cargo install \
             --locked --path query/sql` (scripts/install installs it with the others), or in a clone build it with \
             `cargo build -p sluice-sql`\n",
            dir.path().display()
        )
    );
}
