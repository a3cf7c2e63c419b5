//! `clawvault inject -i TEMPLATE -o FILE`: renders a template whose `{{ cv://VAULT/PATH }}` and
//! `{{ cv://VAULT/PATH#FIELD }}` references are replaced by secrets the identity may `use`, into
//! a file written atomically with a private mode. Values go to the file only: never to this
//! command's output, so there is no `-o -`.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use clawvault_client::{Client, Secret};
use clawvault_core::template::{self, Reference, Template};
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::files;

/// `clawvault inject`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault inject -i config.yaml.tpl -o config.yaml
  echo 'DB_PASSWORD={{ cv://prod/db#password }}' | clawvault inject -i - -o .env --mode 0400

{{ cv://VAULT/PATH }} is the secret's value; {{ cv://VAULT/PATH#FIELD }} one field of a JSON or
env-bundle secret. Other {{ ... }} expressions are left as they are. The secrets need only the
use permission; the file is written atomically with mode 0600 unless --mode.")]
pub struct InjectArgs {
    /// The template (`-`: standard input).
    #[arg(short = 'i', long = "in", value_name = "TEMPLATE")]
    input: PathBuf,
    /// The file to write (never standard output: values do not reach this command's output).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    output: PathBuf,
    /// The file's mode, in octal.
    #[arg(long, default_value = "0600", value_name = "MODE")]
    mode: String,
    /// Replace the file even if clawvault did not write it (or it changed since).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    pub global: Global,
}

/// The secret at `vault`/`path`, read (with `use`) once per rendering.
pub async fn secret<'a>(
    client: &Client,
    read: &'a mut HashMap<(String, String), Secret>,
    vault: &str,
    path: &str,
) -> Result<&'a Secret> {
    let key = (vault.to_owned(), path.to_owned());
    if !read.contains_key(&key) {
        let secret = client.use_secret(vault, path).await.with_context(|| format!("{vault}/{path}: cannot be used"))?;
        read.insert(key.clone(), secret);
    }
    Ok(&read[&key])
}

/// The value a reference stands for, from secrets read once each.
pub async fn resolve(
    client: &Client,
    read: &mut HashMap<(String, String), Secret>,
    r: &Reference,
) -> Result<Zeroizing<String>> {
    let secret = secret(client, read, &r.vault, &r.path).await.with_context(|| format!("{r}"))?;
    let text = secret
        .value
        .expose_str()
        .ok_or_else(|| Coded::invalid(format!("{r}: its value is not text, so it cannot go into a template")))?;
    match &r.field {
        None => Ok(Zeroizing::new(text.to_owned())),
        Some(name) => template::field(&secret.secret_type, text, name).ok_or_else(|| {
            Coded::invalid(format!(
                "{r}: the secret ({}) has no field {name:?} (fields are the keys of json and env-bundle secrets)",
                secret.secret_type
            ))
        }),
    }
}

/// Renders `template` with every reference resolved, reading each secret once into `read`;
/// the first failure stops it.
pub async fn render(
    client: &Client,
    template: &Template,
    read: &mut HashMap<(String, String), Secret>,
) -> Result<Zeroizing<String>> {
    let mut values = HashMap::new();
    for r in template.references() {
        values.insert(r.clone(), resolve(client, read, r).await?);
    }
    template.render(|r| values.get(r).cloned().ok_or_else(|| anyhow::anyhow!("{r}: not resolved")))
}

/// Runs `inject`.
///
/// # Errors
/// A bad template or reference, a secret that cannot be used, a file that cannot be written.
pub async fn run(args: InjectArgs) -> Result<()> {
    if args.output.as_os_str() == "-" {
        return Err(Coded::invalid(
            "-o - would print the values: write them to a file (clawvault run gives them to a process)",
        ));
    }
    let mode = files::parse_mode(&args.mode)?;
    let text = if args.input.as_os_str() == "-" {
        let mut t = String::new();
        std::io::stdin().read_to_string(&mut t).context("reading the template from standard input")?;
        t
    } else {
        std::fs::read_to_string(&args.input)
            .map_err(|e| Coded::invalid(format!("cannot read the template {}: {e}", args.input.display())))?
    };
    let template = Template::parse(&text).map_err(|e| Coded::invalid(format!("{}: {e}", args.input.display())))?;
    if !args.force {
        files::check_ours(&args.output)?;
    }
    let client = context::client(&args.global)?;
    let rendered = render(&client, &template, &mut HashMap::new()).await?;
    files::write_atomic(&args.output, rendered.as_bytes(), mode, None)?;
    files::remember(&args.output);
    eprintln!("Wrote {} ({} reference(s), mode {:04o}).", args.output.display(), template.references().len(), mode);
    Ok(())
}
