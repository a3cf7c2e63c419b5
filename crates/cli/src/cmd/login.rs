//! `clawvault login`.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use clawvault_client::Client;
use zeroize::Zeroizing;

use crate::cli::{Global, LoginArgs};
use crate::context::{self, SavedLogin};

/// Checks the key against the server and saves address and key.
///
/// # Errors
/// Unreachable server, rejected key, I/O.
pub async fn run(global: &Global, args: LoginArgs) -> Result<()> {
    let address = context::address(global);
    let key = match &args.from_file {
        Some(path) => {
            Zeroizing::new(std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None if std::io::stdin().is_terminal() => {
            Zeroizing::new(rpassword::prompt_password("API key (input hidden): ")?)
        }
        None => {
            let mut s = Zeroizing::new(String::new());
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
    };
    let key = Zeroizing::new(key.trim().to_owned());
    if key.is_empty() {
        bail!("no API key given");
    }
    let mut builder = Client::builder(&address);
    if let Some(ca) = &global.ca_cert {
        builder = builder.ca_certificate_pem(std::fs::read(ca)?);
    }
    builder.build()?.exchange(&key).await?;
    let path = context::save_login(&SavedLogin { address: address.clone(), api_key: key.to_string() })?;
    eprintln!("Logged in to {address}; credentials saved in {} (mode 0600).", path.display());
    Ok(())
}
