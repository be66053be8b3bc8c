//! Shell completions and man pages, generated from the clap definitions in
//! [`crate::cli`] so that they never drift from the flags.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Args;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> io::Result<()> {
    // clap_complete panics when its writer fails (`sluice completions bash |
    // head`): generate into memory, then write, so a closed pipe is an error
    // the caller handles.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "sluice", &mut script);
    out.write_all(&script)?;
    out.flush()
}

/// sluice(1), the top-level page: synopsis, global options and the list
/// of commands.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Args::command()).render(out)?;
    out.flush()
}

/// sluice.1 and one sluice-COMMAND.1 per command into `dir` (created if
/// missing), as `man sluice-search` finds them.
pub fn man_pages(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Args::command(), dir)
}
