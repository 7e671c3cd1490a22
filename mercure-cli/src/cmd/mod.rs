//! One module per subcommand.

mod discover;
mod docs;
mod hub;
mod key;
mod publish;
mod subscribe;
mod subscriptions;
mod token;

use crate::args::{Cli, Command};

/// The error type of every command: printed with its causes by `main`.
pub(crate) type CliError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Token(args) => token::run(&args),
        Command::Publish(args) => publish::run(args).await,
        Command::Subscribe(args) => subscribe::run(args).await,
        Command::Discover(args) => discover::run(args).await,
        Command::Subscriptions(args) => subscriptions::run(args).await,
        Command::Hub(args) => hub::run(args).await,
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
    }
}
