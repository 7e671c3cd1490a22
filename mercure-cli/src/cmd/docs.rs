//! `mercure completions` and `mercure man`: documentation generated from
//! the command-line definition itself.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::Man;

use super::CliError;
use crate::args::{Cli, CompletionsArgs, ManArgs};

/// Prints the completion script for the shell asked for.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    let mut text = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "mercure", &mut text);
    print(&text)
}

/// Prints `mercure.1`, or writes every page into `--out`.
pub(crate) fn man(args: &ManArgs) -> Result<(), CliError> {
    // Built, so that subcommands are named `mercure-token` and so on; no
    // page for the `help` subcommand.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let Some(dir) = &args.out else {
        let mut text = Vec::new();
        page(command).render(&mut text)?;
        return print(&text);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the directory {}: {e}", dir.display()))?;
    let mut written = vec![write_page(&command, dir)?];
    // `mercure hub` runs `mercure-hub`, whose own page (from `mercure-hub
    // --man`) is `mercure-hub.1`: that file name is left to it.
    for subcommand in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "hub")
    {
        write_pages(subcommand, dir, &mut written)?;
    }
    let mut listing = String::new();
    for path in written {
        listing.push_str(&format!("{}\n", path.display()));
    }
    print(listing.as_bytes())
}

/// Writes the page of `command` and those of its visible subcommands into
/// `dir`, adding their paths to `written`.
fn write_pages(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    written.push(write_page(command, dir)?);
    for subcommand in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(subcommand, dir, written)?;
    }
    Ok(())
}

/// Writes the page of `command` into `dir`; returns its path.
fn write_page(command: &clap::Command, dir: &Path) -> Result<PathBuf, CliError> {
    let page = page(command.clone());
    let path = dir.join(page.get_filename());
    page.generate_to(dir)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The manual page of `command`.
fn page(command: clap::Command) -> Man {
    Man::new(command).source(concat!("mercure ", env!("CARGO_PKG_VERSION")))
}

/// Writes `text` to standard output.
fn print(text: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to standard output: {e}").into())
}
