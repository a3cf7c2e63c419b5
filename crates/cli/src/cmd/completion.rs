//! `clawvault completion`: shell completion scripts, generated from the same definitions that
//! parse the command line, so they know every command and option.

use std::io::Write;

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;

/// `clawvault completion`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault completion bash > ~/.local/share/bash-completion/completions/clawvault
  clawvault completion zsh > \"${fpath[1]}/_clawvault\"
  clawvault completion fish > ~/.config/fish/completions/clawvault.fish
  source <(clawvault completion bash)        # for this shell only")]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for the shell.
///
/// # Errors
/// Writing to stdout.
pub fn run(args: &CompletionArgs) -> Result<()> {
    let mut command = Cli::command();
    // Into memory first: the generator panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "clawvault", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(())
}
