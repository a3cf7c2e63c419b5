//! The server's MCP endpoint as an rmcp client transport, with this client's address, trust
//! and credential: `clawvault mcp` relays a stdio MCP client through it, so the rules of what
//! a tool may do live only in the server.

use std::collections::HashMap;

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use crate::{Client, ClientError};

/// The header naming the vault tools use when a call names none (1Claw's name for it).
const VAULT_HEADER: &str = "x-vault-id";

impl Client {
    /// A transport to `/mcp` that sends this client's key as the bearer and, when given,
    /// `vault` as the vault tools default to.
    ///
    /// # Errors
    /// [`ClientError::NoCredentials`] without a key; [`ClientError::InvalidInput`] for a vault
    /// name that cannot be a header.
    pub fn mcp_transport(
        &self,
        vault: Option<&str>,
    ) -> Result<StreamableHttpClientTransport<reqwest::Client>, ClientError> {
        let key = self.api_key.as_ref().ok_or(ClientError::NoCredentials)?;
        let mut headers = HashMap::new();
        if let Some(v) = vault {
            let value = HeaderValue::from_str(v)
                .map_err(|_| ClientError::InvalidInput(format!("vault {v:?} cannot be sent: use its name or id")))?;
            headers.insert(HeaderName::from_static(VAULT_HEADER), value);
        }
        let config = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", self.base))
            .auth_header(key.as_str())
            .custom_headers(headers);
        Ok(StreamableHttpClientTransport::with_client(self.http.clone(), config))
    }
}
