//! `.env` files, parsed whole by `core::dotenv` first: one secret per variable.

use anyhow::{Context, Result};
use zeroize::Zeroizing;

use super::Incoming;
use crate::exit::Coded;

pub(super) fn read(file: &std::path::Path, prefix: Option<&str>) -> Result<Vec<Incoming>> {
    let shown = file.display();
    let bytes = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    let text = String::from_utf8(bytes).map_err(|_| Coded::invalid(format!("{shown} is not UTF-8 text")))?;
    let variables = clawvault_core::dotenv::parse(&text).map_err(|e| Coded::invalid(format!("{shown}: {e}")))?;
    variables
        .into_iter()
        .map(|v| {
            let path = super::place(prefix, &v.key, &format!("{shown}: line {}", v.line))?;
            let value = Zeroizing::new(v.value.as_bytes().to_vec());
            Ok(Incoming::new(path, value, format!("{shown}:{}", v.line)))
        })
        .collect()
}
