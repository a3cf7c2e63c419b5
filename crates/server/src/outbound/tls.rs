//! The TLS settings of every outbound request: the system's roots (the platform verifier, as
//! reqwest's own) plus the certificates of a configured CA file, HTTP/2 offered before
//! HTTP/1.1, no session resumption.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::OutboundError;

/// Extra roots, and the settings built from them on first use.
#[derive(Debug)]
pub(super) struct Tls {
    extra: Vec<CertificateDer<'static>>,
    /// Built once: the platform verifier reads and parses the system's roots when it is made,
    /// which costs milliseconds, more than the rest of a call. A failure (roots unreadable for
    /// a moment) is tried again on the next call.
    built: OnceLock<rustls::ClientConfig>,
}

impl Tls {
    /// Settings trusting, besides the system's roots, the certificates in `ca_file`.
    pub(super) fn new(ca_file: Option<&Path>) -> Result<Self, OutboundError> {
        let extra = match ca_file {
            None => Vec::new(),
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|e| OutboundError::Build(format!("proxy.ca_file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(OutboundError::Build(format!(
                        "proxy.ca_file {} holds no PEM certificate",
                        path.display()
                    )));
                }
                certs
            }
        };
        Ok(Self { extra, built: OnceLock::new() })
    }

    pub(super) fn config(&self) -> Result<rustls::ClientConfig, OutboundError> {
        if let Some(config) = self.built.get() {
            return Ok(config.clone());
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(self.extra.iter().cloned(), Arc::clone(&provider))
                .map_err(|e| OutboundError::Build(format!("TLS cannot be set up: {e}")))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OutboundError::Build(format!("TLS cannot be set up: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Clones share the session store: without this, an upstream could link the calls of
        // different agents by their resumption tickets.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(self.built.get_or_init(|| config).clone())
    }
}
