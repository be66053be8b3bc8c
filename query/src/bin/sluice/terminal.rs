//! Terminal conventions, as ripgrep keeps them: colour only on a terminal,
//! never under `NO_COLOR`, always under `CLICOLOR_FORCE`, and `--color`
//! over both. The policy is anstream's, which clap draws its help with;
//! `main` sets the choice once with `--color`.

use std::io::{self, IsTerminal};

use anstream::{AutoStream, ColorChoice};

/// Whether tables and charts on stdout are coloured.
pub fn stdout_color() -> bool {
    AutoStream::choice(&io::stdout()) != ColorChoice::Never
}

fn stderr_color() -> bool {
    AutoStream::choice(&io::stderr()) != ColorChoice::Never
}

/// Whether stderr is a person's terminal: summaries meant for people
/// (`6 of 38 matches, newest first`) are written only then.
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

/// `error`, in bold red when stderr is coloured.
pub fn error_label() -> String {
    paint_stderr("error", "1;31")
}

/// `note`, in bold yellow when stderr is coloured.
pub fn note_label() -> String {
    paint_stderr("note", "1;33")
}

fn paint_stderr(label: &str, sgr: &str) -> String {
    if stderr_color() { format!("\x1b[{sgr}m{label}\x1b[0m") } else { label.to_owned() }
}
