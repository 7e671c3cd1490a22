//! `mercure`: the Mercure toolkit on the command line.
//!
//! ```text
//! mercure token --publish '*'                      # a 0.x publisher token
//! mercure publish --hub URL --topic T --data '{}'  # publish an update
//! ```
//! Run `mercure help` or `mercure help COMMAND` for everything else.

// Doc comments on the argument types are the command's `--help` text, where
// URLs are plain text.
#![allow(rustdoc::bare_urls)]

mod args;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mercure: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mercure: {error}");
            let mut source = std::error::Error::source(error.as_ref());
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
