//! The README's commands, run as written: the Quick start, "Investigating
//! an incident" and "Compaction", each output block compared with what the
//! commands print.
//!
//! The README's conventions, which this test relies on:
//! * A `sh` block holds commands, run in order in one shell (so `export`
//!   carries on). Comment lines are skipped, and so are the commands in
//!   [`NOT_RUN`], each for a stated reason.
//! * A `text` block whose lines start with `$ ` holds commands and, after
//!   each, what it prints (stdout and stderr together).
//! * A `text` block without `$ ` lines is what the `sh` block just before
//!   it prints.
//! * In an expected output, a line `…` stands for one or more lines left out.
//!
//! `cargo run -q -p sluice-ingest --` and `cargo run -q -p sluice-query --`
//! become the binaries this test run built (running cargo from inside
//! `cargo test` would wait on its lock). Elapsed times, rates and the time
//! a record was observed (`--dry-run`'s `observed_timestamp`) are masked.

use std::path::Path;
use std::process::Command;

use crate::{binary, workspace};

/// Commands the README shows but this test does not run, and why.
const NOT_RUN: [(&str, &str); 2] = [
    ("./scripts/test", "the test suite itself"),
    ("cargo build -q --bins", "the binaries are built before the tests (scripts/test builds them)"),
];

#[test]
fn quick_start_prints_what_the_readme_shows() {
    check_section("Quick start");
}

#[test]
fn compaction_prints_what_the_readme_shows() {
    check_section("Compaction");
}

#[test]
fn investigating_an_incident_prints_what_the_readme_shows() {
    check_section("Investigating an incident");
}

/// One step of a section: commands to run, and what they print when the
/// README shows it.
#[derive(Debug)]
struct Step {
    commands: Vec<String>,
    expected: Option<Vec<String>>,
}

fn check_section(title: &str) {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let steps = steps(section(&readme, title));
    assert!(steps.iter().any(|s| s.expected.is_some()), "README section `{title}` shows no output to check");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(workspace().join("fixtures"), dir.path().join("fixtures")).unwrap();
    // One shell script runs every command; a marker line before each
    // step's output splits what it printed.
    let mut script = String::new();
    for (i, step) in steps.iter().enumerate() {
        script.push_str(&format!("echo '@@step {i}@@'\n"));
        for command in &step.commands {
            // A failing command stops the script with its exit code.
            script.push_str(&format!("{{ {command}; }} 2>&1 || exit $?\n"));
        }
    }
    let output = shell(dir.path(), &script);
    let text = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "README `{title}` commands failed: {stderr}\nscript:\n{script}\noutput:\n{text}");
    let mut printed: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("@@step ") {
            printed.push(Vec::new());
        } else if let Some(current) = printed.last_mut() {
            current.push(mask(line));
        }
    }
    assert_eq!(printed.len(), steps.len(), "{text}");
    for (step, printed) in steps.iter().zip(&printed) {
        if let Some(expected) = &step.expected {
            let expected: Vec<String> = expected.iter().map(|line| mask(line)).collect();
            assert!(
                matches(&expected, printed),
                "README `{title}`: `{}` printed\n{}\n\nbut the README shows\n{}",
                step.commands.join(" && "),
                printed.join("\n"),
                expected.join("\n")
            );
        }
    }
}

/// Runs `script` with bash in `dir`, with the built binaries first on PATH
/// and none of the environment that would change what they print.
fn shell(dir: &Path, script: &str) -> std::process::Output {
    let bin = binary("sluice").parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("SLUICE_DATA_DIR")
        .env_remove("SLUICE_TZ")
        .env_remove("COLUMNS")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap()
}

/// The lines of `## title` up to the next `## ` heading.
fn section<'a>(readme: &'a str, title: &str) -> Vec<&'a str> {
    let heading = format!("## {title}");
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines.iter().position(|l| *l == heading).unwrap_or_else(|| panic!("README has no `{heading}`"));
    let end = lines[start + 1..].iter().position(|l| l.starts_with("## ")).map_or(lines.len(), |n| start + 1 + n);
    lines[start + 1..end].to_vec()
}

/// The section's fenced blocks as steps, in order.
fn steps(lines: Vec<&str>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = lines.into_iter();
    while let Some(line) = lines.next() {
        let Some(language) = line.strip_prefix("```") else { continue };
        let block: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        match language {
            "sh" => {
                let commands = block.iter().map(|l| l.trim()).filter(|l| !l.is_empty() && !l.starts_with('#'));
                let commands: Vec<String> = commands.filter(|c| !is_not_run(c)).map(as_built).collect();
                steps.push(Step { commands, expected: None });
            }
            "text" if block.iter().any(|l| l.starts_with("$ ")) => {
                for line in block {
                    if let Some(command) = line.strip_prefix("$ ") {
                        steps.push(Step { commands: vec![as_built(command)], expected: Some(Vec::new()) });
                    } else if let Some(Step { expected: Some(expected), .. }) = steps.last_mut() {
                        expected.push(line.to_owned());
                    }
                }
            }
            "text" => {
                let last = steps.last_mut().expect("an output block follows the commands that print it");
                assert!(last.expected.is_none(), "two output blocks after one command block: {block:?}");
                last.expected = Some(block.iter().map(|l| (*l).to_owned()).collect());
            }
            _ => {}
        }
    }
    steps
}

fn is_not_run(command: &str) -> bool {
    NOT_RUN.iter().any(|(prefix, _why)| command.starts_with(prefix))
}

/// The README's `cargo run` forms as the built binaries.
fn as_built(command: &str) -> String {
    command
        .replace("cargo run -q -p sluice-ingest --", "sluice-ingest")
        .replace("cargo run -q -p sluice-query --", "sluice")
}

/// Masks what differs from run to run: elapsed times and rates.
fn mask(line: &str) -> String {
    // `11125 bytes in 0.178s (0.1 MB/s, 214 lines/s)`
    let line = match (line.find(" bytes in "), line.rfind(" lines/s)")) {
        (Some(start), Some(end)) => {
            format!("{} bytes in <elapsed>{}", &line[..start], &line[end + " lines/s)".len()..])
        }
        _ => line.trim_end().to_owned(),
    };
    // `"observed_timestamp":"2026-12-06T20:55:03.224015517Z"`
    const OBSERVED: &str = "\"observed_timestamp\":\"";
    match line.find(OBSERVED).map(|at| at + OBSERVED.len()) {
        Some(value) => match line[value..].find('"') {
            Some(end) => format!("{}<now>{}", &line[..value], &line[value + end..]),
            None => line,
        },
        None => line,
    }
}

/// Whether `printed` is `expected`, where a `…` line in `expected` stands
/// for one or more lines.
fn matches(expected: &[String], printed: &[String]) -> bool {
    match expected.split_first() {
        None => printed.is_empty(),
        Some((first, rest)) if first == "…" => (1..=printed.len()).any(|skip| matches(rest, &printed[skip..])),
        Some((first, rest)) => printed.split_first().is_some_and(|(line, more)| line == first && matches(rest, more)),
    }
}

#[test]
fn an_ellipsis_stands_for_one_or_more_lines() {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    assert!(matches(&lines("a\n…\nd"), &lines("a\nb\nc\nd")));
    assert!(matches(&lines("a\n…\nd"), &lines("a\nb\nd")));
    assert!(!matches(&lines("a\n…\nd"), &lines("a\nd")));
    assert!(!matches(&lines("a\nb"), &lines("a\nb\nc")));
    assert!(!matches(&lines("a\n…"), &lines("a")));
    assert!(matches(&lines("a\n…"), &lines("a\nb")));
}

#[test]
fn masks_elapsed_times_and_the_observed_time_only() {
    assert_eq!(
        mask("38 lines read: 38 accepted, 0 rejected, 0 blank; 11125 bytes in 0.182s (0.1 MB/s, 208 lines/s)"),
        "38 lines read: 38 accepted, 0 rejected, 0 blank; 11125 bytes in <elapsed>"
    );
    assert_eq!(
        mask(
            r#"{"timestamp":"2018-07-09T21:17:54.631000000Z","observed_timestamp":"2026-12-06T20:55:03.2Z","level":"info"}"#
        ),
        r#"{"timestamp":"2018-07-09T21:17:54.631000000Z","observed_timestamp":"<now>","level":"info"}"#
    );
    assert_eq!(mask("2024-03-03T11:46:04.236Z  +0ms  "), "2024-03-03T11:46:04.236Z  +0ms");
}
