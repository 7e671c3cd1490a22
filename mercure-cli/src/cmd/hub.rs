//! `mercure hub`: runs the `mercure-hub` binary, like git runs `git-*`
//! helpers, so the hub's flags are documented and parsed in one place.

use std::path::PathBuf;

use super::CliError;
use crate::args::HubArgs;

/// The environment variable naming the hub binary explicitly.
const HUB_BIN_ENV: &str = "MERCURE_HUB_BIN";

pub(crate) async fn run(args: HubArgs) -> Result<(), CliError> {
    let binary = locate()?;
    let status = tokio::process::Command::new(&binary)
        .args(&args.args)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("mercure-hub exited with {status}").into())
    }
}

/// `$MERCURE_HUB_BIN`, else `mercure-hub` beside this executable, else on PATH.
fn locate() -> Result<PathBuf, CliError> {
    if let Some(explicit) = std::env::var_os(HUB_BIN_ENV) {
        let path = PathBuf::from(explicit);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{HUB_BIN_ENV} names {}, which does not exist",
                path.display()
            )
            .into())
        };
    }
    let name = format!("mercure-hub{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(&name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(on_path)
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!(
                "the mercure-hub binary was not found beside mercure nor on PATH \
                 (install it with `cargo install --path mercure-hub`, or set {HUB_BIN_ENV})"
            )
            .into()
        })
}
