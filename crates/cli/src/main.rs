//! `clawvault`: the server and the command-line client in one binary.
//!
//! Run `clawvault server` to start a local server (data in `~/.local/share/clawvault`), then
//! `clawvault vault create demo` and `echo -n s3cret | clawvault secret put demo/hello`.
//! `clawvault --help` lists every command with examples and the exit codes.

mod cli;
mod cmd;
mod context;
mod exit;
mod explain;
mod output;
mod principals;
mod profile;
mod value_format;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = cli.command.global().cloned();
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
            Command::Login(args) => cmd::login::run(args).await,
            Command::Logout(args) => cmd::login::logout(&args),
            Command::Status(args) => cmd::status::run(&args).await,
            Command::Whoami(args) => cmd::whoami::run(&args).await,
            Command::Vault(g) => cmd::vault::run(&g.global, g.command).await,
            Command::Secret(g) => cmd::secret::run(&g.global, g.command).await,
            Command::Audit(g) => cmd::audit::run(&g.global, g.command).await,
            Command::Agent(g) => cmd::agent::run(&g.global, g.command).await,
            Command::User(g) => cmd::user::run(&g.global, g.command).await,
            Command::ApiKey(g) => cmd::apikey::run(&g.global, g.command).await,
            Command::Policy(g) => cmd::policy::run(&g.global, g.command).await,
            Command::Share(g) => cmd::share::run(&g.global, g.command).await,
        }
    });
    let result = match (result, &global) {
        (Err(e), Some(g)) => Err(runtime.block_on(explain::diagnose(e, g))),
        (other, _) => other,
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            // Line by line: a multi-line message (all of a config file's problems) keeps its
            // lines, while anything else a terminal would obey is escaped.
            let message: Vec<String> = format!("{e:#}").lines().map(output::printable).collect();
            eprintln!("error: {}", message.join("\n"));
            if let Some(hint) = global.as_ref().and_then(|g| explain::hint(&e, g)) {
                eprintln!("  {}", output::printable(&hint));
            }
            ExitCode::from(exit::code_for(&e))
        }
    }
}
