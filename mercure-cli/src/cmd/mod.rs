//! One module per subcommand.

mod key;
mod publish;
mod token;

use crate::args::{Cli, Command};

/// The error type of every command: printed with its causes by `main`.
pub(crate) type CliError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Token(args) => token::run(&args),
        Command::Publish(args) => publish::run(args).await,
    }
}
