//! Where a secret may be sent when it is used without being revealed (`http_request`, the
//! proxy): the hosts its metadata names in `allowed_hosts`. A JSON array of `host`,
//! `host:port`, `*.domain` (any subdomain, not the domain itself) or an IP literal (`10.0.0.5`,
//! `[fd00::1]:8443`); absent or empty means nowhere. Loopback, private and link-local
//! addresses are reached only when an entry names that address literally: a name that
//! resolves there (or an attacker's DNS) does not open the inside of the network.

use std::net::IpAddr;

use serde_json::Value;

/// The metadata key.
pub const ALLOWED_HOSTS: &str = "allowed_hosts";
/// More entries than anyone writes by hand; bounds the work of a check.
pub const MAX_ENTRIES: usize = 64;

/// A malformed `allowed_hosts`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not an array of strings.
    #[error("allowed_hosts must be a JSON array of hosts such as [\"api.openai.com\", \"*.example.com:8443\"]")]
    NotAList,
    /// Too many entries.
    #[error("allowed_hosts has more than {MAX_ENTRIES} entries")]
    TooMany,
    /// One entry is not a host.
    #[error("allowed_hosts entry {0:?} is not a host, host:port, *.domain or IP address")]
    BadEntry(String),
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A name, lower-case, without a trailing dot.
    Name(String),
    /// Any subdomain of this name.
    Subdomains(String),
    /// An address written literally.
    Ip(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: Host,
    port: Option<u16>,
}

/// The destinations a secret may be sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<Entry>);

impl AllowedHosts {
    /// Reads `allowed_hosts` from a secret's metadata (absent: nowhere).
    ///
    /// # Errors
    /// [`EgressError`] for a value that is not a list of hosts.
    pub fn from_metadata(metadata: &Value) -> Result<Self, EgressError> {
        match metadata.get(ALLOWED_HOSTS) {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(Value::Array(items)) => {
                if items.len() > MAX_ENTRIES {
                    return Err(EgressError::TooMany);
                }
                items
                    .iter()
                    .map(|v| v.as_str().ok_or(EgressError::NotAList).and_then(parse_entry))
                    .collect::<Result<_, _>>()
                    .map(Self)
            }
            Some(_) => Err(EgressError::NotAList),
        }
    }

    /// Whether nothing is allowed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some entry could allow `host` on `port`, whatever it resolves to: checked before
    /// the name is looked up, so that no lookup (an internal-DNS oracle, a query to an
    /// attacker's name server) is made for a host no entry names.
    #[must_use]
    pub fn may_allow(&self, host: &str, port: u16) -> bool {
        let host = normalise(host);
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        self.0.iter().any(|e| {
            e.port.is_none_or(|p| p == port)
                && match (&e.host, literal) {
                    (Host::Ip(ip), Some(l)) => *ip == l,
                    (Host::Name(n), None) => *n == host,
                    (Host::Subdomains(d), None) => {
                        host.len() > d.len() + 1
                            && host.ends_with(d.as_str())
                            && host[..host.len() - d.len()].ends_with('.')
                    }
                    _ => false,
                }
        })
    }

    /// Whether a request to `host` (as the URL names it: a name or an IP literal) on `port`,
    /// connecting to `address` (what the name resolved to), may carry the secret.
    #[must_use]
    pub fn allows(&self, host: &str, port: u16, address: IpAddr) -> bool {
        let host = normalise(host);
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        self.0.iter().any(|e| {
            if e.port.is_some_and(|p| p != port) {
                return false;
            }
            match (&e.host, literal) {
                // An address entry allows exactly that address, written as such.
                (Host::Ip(ip), Some(l)) => *ip == l && l == address,
                (Host::Ip(_), None) | (Host::Name(_) | Host::Subdomains(_), Some(_)) => false,
                (Host::Name(n), None) => *n == host && is_public(address),
                (Host::Subdomains(d), None) => {
                    host.len() > d.len() + 1
                        && host.ends_with(d.as_str())
                        && host[..host.len() - d.len()].ends_with('.')
                        && is_public(address)
                }
            }
        })
    }
}

/// Headers that a request sent on someone's behalf (a route's injection, an `http_request`)
/// may not set: the connection's own, and those that would let an echo of a value escape
/// scrubbing (compression, ranges).
#[must_use]
pub fn reserved_header(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "accept-encoding",
        "range",
        "if-range",
    ];
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

fn normalise(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn parse_entry(raw: &str) -> Result<Entry, EgressError> {
    let bad = || EgressError::BadEntry(raw.to_owned());
    let text = normalise(raw);
    // `[v6]:port`, `[v6]`, a bare v6 address, `host:port`, `host`.
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (addr.to_owned(), port)
    } else if text.matches(':').count() > 1 {
        (text.clone(), None)
    } else if let Some((h, p)) = text.split_once(':') {
        (h.to_owned(), Some(p.parse::<u16>().map_err(|_| bad())?))
    } else {
        (text.clone(), None)
    };
    if port == Some(0) {
        return Err(bad());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Entry { host: Host::Ip(ip), port });
    }
    let (name, wildcard) = match host.strip_prefix("*.") {
        Some(domain) => (domain, true),
        None => (host.as_str(), false),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // A wildcard needs a domain of two labels at least: `*.com` would allow half the internet.
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253 || !labels.iter().all(|l| label_ok(l)) || (wildcard && labels.len() < 2) {
        return Err(bad());
    }
    let host = if wildcard { Host::Subdomains(name.to_owned()) } else { Host::Name(name.to_owned()) };
    Ok(Entry { host, port })
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local,
/// unique- or site-local, shared (CGNAT), benchmarking, protocol-assignment, reserved,
/// documentation, unspecified, broadcast or multicast; and an IPv6 address that carries an
/// IPv4 one (mapped, compatible, NAT64, 6to4) only when that one is public.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)))
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // NAT64 (64:ff9b::/96), IPv4-compatible (::/96), 6to4 (2002::/16).
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0; 6] {
                return !v6.is_loopback() && !v6.is_unspecified() && embedded(s[6], s[7]);
            }
            if s[0] == 0x2002 {
                return embedded(s[1], s[2]);
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                || (s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0))
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])
                || (s[0] & 0xfff0) == 0x3ff0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hosts(list: Value) -> AllowedHosts {
        AllowedHosts::from_metadata(&json!({ "allowed_hosts": list })).unwrap()
    }

    const PUBLIC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(93, 184, 216, 34));

    #[test]
    fn names_ports_and_subdomains() {
        let h = hosts(json!(["api.openai.com", "*.example.com:8443", "Hooks.Slack.com."]));
        assert!(h.allows("api.openai.com", 443, PUBLIC));
        assert!(
            h.allows("API.OpenAI.com.", 80, PUBLIC),
            "any port when none is named; case and a final dot do not matter"
        );
        assert!(!h.allows("api.openai.com.evil.net", 443, PUBLIC));
        assert!(!h.allows("evilapi.openai.com", 443, PUBLIC));
        assert!(h.allows("a.b.example.com", 8443, PUBLIC));
        assert!(!h.allows("a.example.com", 443, PUBLIC), "the named port only");
        assert!(!h.allows("example.com", 8443, PUBLIC), "subdomains, not the domain");
        assert!(!h.allows("badexample.com", 8443, PUBLIC));
        assert!(h.allows("hooks.slack.com", 443, PUBLIC));
    }

    #[test]
    fn nothing_when_absent_or_empty() {
        assert!(AllowedHosts::from_metadata(&json!({})).unwrap().is_empty());
        assert!(!hosts(json!([])).allows("api.openai.com", 443, PUBLIC));
    }

    #[test]
    fn the_inside_of_the_network_only_by_literal_address() {
        let local = IpAddr::from([127, 0, 0, 1]);
        let private = IpAddr::from([10, 0, 0, 5]);
        let h = hosts(json!(["api.internal.example", "10.0.0.5:8080", "[::1]"]));
        assert!(!h.allows("api.internal.example", 443, private), "a name that resolves inside is refused");
        assert!(!h.allows("api.internal.example", 443, local));
        assert!(h.allows("10.0.0.5", 8080, private));
        assert!(!h.allows("10.0.0.5", 8080, local), "the connection goes where the literal says");
        assert!(!h.allows("10.0.0.6", 8080, IpAddr::from([10, 0, 0, 6])));
        assert!(h.allows("[::1]", 3000, "::1".parse().unwrap()));
        assert!(!h.allows("localhost", 3000, "::1".parse().unwrap()), "localhost is a name, not a literal");
        for inside in
            ["169.254.169.254", "100.64.0.1", "0.0.0.0", "::ffff:10.0.0.1", "fd00::1", "fe80::1", "192.168.1.1"]
        {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }

    #[test]
    fn malformed_lists_are_refused_by_name() {
        for bad in [
            json!("api.openai.com"),
            json!([1]),
            json!(["*.com"]),
            json!(["a b"]),
            json!(["h:0"]),
            json!(["h:99999"]),
            json!(["*"]),
        ] {
            assert!(AllowedHosts::from_metadata(&json!({ "allowed_hosts": bad })).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("h{i}.example.com")).collect();
        assert_eq!(AllowedHosts::from_metadata(&json!({ "allowed_hosts": many })), Err(EgressError::TooMany));
    }

    #[test]
    fn addresses_that_carry_an_inside_one_are_inside() {
        for inside in [
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::a00:5",
            "64:ff9b:1::1",
            "::7f00:1",
            "2002:a00:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "100::1",
            "3fff::1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for public in ["64:ff9b::5db8:d822", "2002:5db8:d822::1", "2606:4700::1111", "93.184.216.34"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_name_no_entry_names_is_refused_before_any_lookup() {
        let h = hosts(json!(["api.openai.com", "*.example.com:8443", "10.0.0.5"]));
        assert!(h.may_allow("api.openai.com", 443));
        assert!(h.may_allow("a.example.com", 8443));
        assert!(!h.may_allow("a.example.com", 443));
        assert!(!h.may_allow("db.corp.internal", 443));
        assert!(h.may_allow("10.0.0.5", 80));
        assert!(!h.may_allow("10.0.0.6", 80));
    }
}
