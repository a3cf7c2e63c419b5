//! Name resolution of outbound clients. A pinned client resolves nothing (its one name is
//! mapped to the checked address beforehand); a public client keeps only the public
//! addresses a name resolves to, so a name that points inside the network (or an attacker's
//! DNS answer made to) reaches nothing there. Each new connection resolves afresh.

use std::net::SocketAddr;

use clawvault_core::egress::is_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Most addresses kept of one answer.
const MAX_ADDRESSES: usize = 16;

/// Resolves nothing: every name a pinned client may reach is mapped beforehand.
#[derive(Debug, Clone, Copy)]
pub(super) struct Nowhere;

impl Resolve for Nowhere {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move { Err(format!("{name} is not the host that was checked").into()) })
    }
}

/// Resolves names to their public addresses only.
#[derive(Debug, Clone, Copy)]
pub(super) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).take(MAX_ADDRESSES).collect();
            if public.is_empty() {
                return Err(format!(
                    "{name} resolves to no public address (an upstream inside the network is named by its IP address)"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
