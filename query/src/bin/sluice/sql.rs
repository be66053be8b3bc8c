//! `sluice sql` runs the `sluice-sql` program (crate `query/sql`), as git
//! runs `git-*` programs: DataFusion is most of the workspace's build, and
//! no other command should wait for it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;
use sluice_schemas::ErrorKind;

use crate::cli::{ColorWhen, SqlOutputFormat};

/// The program, or why it could not be run.
#[derive(Debug, thiserror::Error)]
pub enum SqlUnavailable {
    #[error(
        "`sluice sql` runs the sluice-sql program (SQL is built apart, so that the other commands build in minutes), \
         which is neither in {} (beside sluice) nor on PATH: install it with `cargo install --locked --path query/sql` \
         (scripts/install installs it with the others), or in a clone build it with `cargo build -p sluice-sql`",
        beside.display()
    )]
    Missing { beside: PathBuf },
    #[error("cannot run {}: {source}", program.display())]
    Exec { program: PathBuf, source: std::io::Error },
}

impl SqlUnavailable {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::OperatorFixable
    }
}

/// Replaces this process with `sluice-sql`, which prints the result and
/// exits with `sluice`'s exit codes. Returns only if it could not start.
pub fn exec(
    data_dir: &Path,
    archive: Option<&str>,
    statement: &str,
    format: SqlOutputFormat,
    stats: bool,
    color: ColorWhen,
) -> SqlUnavailable {
    let (program, beside) = program();
    let mut command = Command::new(&program);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(archive.map(|url| format!("--archive={url}")))
        .arg("--color")
        .arg(value_name(color))
        .arg("--format")
        .arg(value_name(format))
        .args(stats.then_some("--stats"))
        // A statement may start with `-`: it is never a flag.
        .arg("--")
        .arg(statement);
    let error = run(command);
    if error.kind() == std::io::ErrorKind::NotFound {
        SqlUnavailable::Missing { beside }
    } else {
        SqlUnavailable::Exec { program, source: error }
    }
}

/// `sluice-sql` beside this executable (an install, or `target/debug`),
/// else the name, for the PATH search; and the directory looked in.
fn program() -> (PathBuf, PathBuf) {
    let name = format!("sluice-sql{}", std::env::consts::EXE_SUFFIX);
    let here = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_owned)).unwrap_or_default();
    let beside = here.join(&name);
    if beside.is_file() { (beside, here) } else { (PathBuf::from(name), here) }
}

fn value_name(value: impl ValueEnum) -> OsString {
    value.to_possible_value().map_or_else(OsString::new, |v| OsString::from(v.get_name()))
}

#[cfg(unix)]
fn run(mut command: Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    command.exec()
}

#[cfg(not(unix))]
fn run(mut command: Command) -> std::io::Error {
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => error,
    }
}
