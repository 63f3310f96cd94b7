//! The shell the crate's binaries share (feature `cli`): logging to stderr at `info` (or
//! `RUST_LOG`), and one error line naming the command.

use std::process::ExitCode;

/// Sets up logging, runs `body` and turns its result into the exit code, printing an error as
/// `error: <command>: <cause chain>`.
pub fn run_main(command: &str, body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {command}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
