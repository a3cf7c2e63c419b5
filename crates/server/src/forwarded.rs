//! The real client behind a trusted proxy. Behind an ingress every connection comes from the
//! ingress, so address allowlists and per-address limits would see one client; the ingress
//! names the client in `Forwarded` (RFC 7239) or `X-Forwarded-For`. Those headers are anyone's
//! to write, so they are read only when the connection comes from a configured trusted proxy,
//! only up to the nearest address that is not itself a trusted proxy, and only the one header
//! the proxy is configured to write: a proxy that appends to `X-Forwarded-For` passes a
//! client's own `Forwarded` header through untouched, and reading that would let the client
//! name any address.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use clawvault_core::policy::Cidr;

fn trusted(ip: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|c| c.contains(ip))
}

/// One `for=` value or `X-Forwarded-For` entry: an address, with or without port and brackets.
fn address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = raw.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    raw.strip_prefix('[').and_then(|r| r.split(']').next()).and_then(|r| r.parse().ok())
}

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (what most ingresses and load balancers write).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// Parses the configuration's name of the header.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }
}

/// The hops a request passed, nearest last, as the configured header tells them.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Option<Vec<IpAddr>> {
    if header == ForwardedHeader::Forwarded {
        let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
        if forwarded.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let value = element
                .split(';')
                .find_map(|pair| pair.trim().split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case("for")))?;
            out.push(address(value.1)?);
        }
        return Some(out);
    }
    let xff: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    if xff.is_empty() {
        return None;
    }
    xff.iter().flat_map(|v| v.split(',')).map(address).collect()
}

/// The client of a request that arrived from `peer`.
#[must_use]
pub fn client(peer: IpAddr, headers: &HeaderMap, proxies: &[Cidr], header: ForwardedHeader) -> IpAddr {
    if !trusted(peer, proxies) {
        return peer;
    }
    // A header that does not parse is ignored as a whole: the proxy is the client then.
    let Some(hops) = hops(headers, header) else { return peer };
    hops.iter().rev().copied().find(|ip| !trusted(*ip, proxies)).or_else(|| hops.first().copied()).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_trusted_proxies_are_believed_and_only_up_to_the_first_stranger() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let ingress: IpAddr = [10, 1, 2, 3].into();
        let outsider: IpAddr = [203, 0, 113, 9].into();
        let xff = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.5, 10.9.9.9")]);
        let x = ForwardedHeader::XForwardedFor;
        assert_eq!(
            client(ingress, &xff, &proxies, x),
            IpAddr::from([203, 0, 113, 5]),
            "a spoofed leftmost entry is ignored"
        );
        assert_eq!(client(outsider, &xff, &proxies, x), outsider, "an untrusted peer's header is ignored");
        let fwd = headers(&[("forwarded", "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\"")]);
        let f = ForwardedHeader::Forwarded;
        assert_eq!(client(ingress, &fwd, &proxies, f), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            client(ingress, &fwd, &proxies, x),
            ingress,
            "a header the proxy does not write is the client's own"
        );
        assert_eq!(client(ingress, &xff, &proxies, f), ingress);
        assert_eq!(client(ingress, &headers(&[("x-forwarded-for", "not an address")]), &proxies, x), ingress);
        assert_eq!(client(ingress, &HeaderMap::new(), &proxies, x), ingress);
        assert_eq!(client(ingress, &xff, &[], x), ingress, "no trusted proxies: the peer, always");
    }
}
