//! `clawvault`: the server and the command-line client in one binary.
//!
//! Run `clawvault server` to start a local server (data in `./clawvault-data`), then
//! `clawvault vault create demo` and `echo -n s3cret | clawvault secret put demo/hello`.
//! `clawvault --help` lists every command with examples and the exit codes.

mod cli;
mod cmd;
mod context;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => cmd::server::run(args).await,
            Command::Login(args) => cmd::login::run(&cli.global, args).await,
            Command::Vault(c) => cmd::vault::run(&cli.global, c).await,
            Command::Secret(c) => cmd::secret::run(&cli.global, c).await,
            Command::Audit(c) => cmd::audit::run(&cli.global, c).await,
            Command::Agent(c) => cmd::agent::run(&cli.global, c).await,
            Command::User(c) => cmd::user::run(&cli.global, c).await,
            Command::Policy(c) => cmd::policy::run(&cli.global, c).await,
            Command::Share(c) => cmd::share::run(&cli.global, c).await,
        }
    });
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::code_for(&e))
        }
    }
}
