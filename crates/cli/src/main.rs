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
mod files;
mod output;
mod principals;
mod private_memory;
mod profile;
mod value_format;
mod yaml;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// The server's request path allocates and frees many small buffers on every worker thread
/// (headers, JSON, audit events). mimalloc's thread-local heaps, backed by transparent huge
/// pages, made reads at concurrency 16 about a fifth faster than glibc's allocator, for some
/// 16 MiB more resident memory at rest (docs/benchmarks.md, "Reads on mimalloc").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit code of a process killed by SIGPIPE, as a shell reports it.
const CLOSED_PIPE: u8 = 141;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
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
            // The one command whose exit code is another program's.
            Command::Run(args) => cmd::run::run(*args).await,
            other => dispatch(other).await.map(|()| exit::OK),
        }
    });
    let result = match (result, &global) {
        (Err(e), Some(g)) => Err(runtime.block_on(explain::diagnose(e, g))),
        (other, _) => other,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_closed_pipe(&e) => ExitCode::from(CLOSED_PIPE),
        Err(e) => {
            // Line by line: a multi-line message (all of a config file's problems) keeps its
            // lines, while anything else a terminal would obey is escaped.
            let message: Vec<String> = explain::message(&e).lines().map(output::printable).collect();
            eprintln!("error: {}", message.join("\n"));
            if let Some(hint) = global.as_ref().and_then(|g| explain::hint(&e, g)) {
                eprintln!("  {}", output::printable(&hint));
            }
            ExitCode::from(exit::code_for(&e))
        }
    }
}

/// `clawvault audit list | head` closes stdout early, and `print!` then panics: end quietly
/// instead, as other command-line tools do.
fn quiet_on_closed_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(i32::from(CLOSED_PIPE));
        }
        default_hook(info);
    }));
}

fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Runs every command but `run`.
async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
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
        Command::Auth(g) => cmd::auth::run(&g.global, g.command).await,
        Command::K8s(g) => cmd::k8s::run(&g.global, g.command).await,
        Command::Rotate(a) => cmd::rotate::run(a).await,
        Command::Share(g) => cmd::share::run(&g.global, g.command).await,
        Command::Mcp(args) => cmd::mcp::run(&args).await,
        Command::Completion(args) => cmd::completion::run(&args),
        Command::Run(args) => cmd::run::run(*args).await.map(|_| ()),
        Command::Inject(args) => cmd::inject::run(*args).await,
        Command::Fleet(args) => cmd::fleet::run(&args).await,
        Command::Proxy(g) => cmd::proxy::run(&g.global, g.command).await,
        Command::Import(g) => cmd::import::run(&g.global, g.command).await,
        Command::Export(g) => cmd::export::run(&g.global, g.command).await,
        Command::GithubToken(a) => cmd::github_token::run(&a).await,
        Command::Bundle(g) => cmd::bundle::run(&g.global, g.command).await,
        Command::Sync(args) => cmd::sync::run(args).await,
    }
}
