//! Trusting the certificate given with `--ca-cert`: the CA that signed the server's
//! certificate, or the server's own self-signed certificate, pinned.
//!
//! The usual one-line `openssl req -x509 … -addext subjectAltName=…` makes a certificate that
//! calls itself a CA (`basicConstraints CA:TRUE`); WebPKI rules refuse such a certificate as a
//! server's own (`CaUsedAsEndEntity`), while curl accepts it. Here a server certificate that is
//! byte for byte one of the given certificates is trusted as it is, like an SSH host key: the
//! pin is stronger than any chain. Every other certificate must chain to the given ones under
//! the WebPKI rules (names, dates, key usage). Only the given certificates are trusted then,
//! not the system's roots, as with curl's `--cacert`.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::ClientError;

/// A rustls configuration that trusts the certificates of `pem` (one or more PEM blocks).
pub(crate) fn config_trusting(pem: &[u8]) -> Result<rustls::ClientConfig, ClientError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| ClientError::Config(format!("the CA certificate is not PEM ({e}): give the .pem file")))?;
    if certs.is_empty() {
        return Err(ClientError::Config(
            "the CA certificate file holds no certificate: give the PEM file that starts with \
             -----BEGIN CERTIFICATE-----"
                .into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs.iter().cloned());
    if roots.is_empty() {
        return Err(ClientError::Config("the CA certificate file holds no certificate that can be read".into()));
    }
    let chained = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ClientError::Config(format!("the CA certificate cannot be used: {e}")))?;
    let verifier = Arc::new(PinnedOrChained { pinned: certs, chained, provider: provider.clone() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Trusts a server certificate equal to a given one, or chaining to the given ones.
#[derive(Debug)]
struct PinnedOrChained {
    pinned: Vec<CertificateDer<'static>>,
    chained: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedOrChained {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
            // The handshake signature is still checked against this certificate's key (below),
            // so only whoever holds its private key passes.
            return Ok(ServerCertVerified::assertion());
        }
        self.chained.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
