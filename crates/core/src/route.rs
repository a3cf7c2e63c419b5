//! Routes of the credential-injecting proxy: where `/proxy/<route>/…` forwards, which secret
//! values go into the forwarded request and where (a header, a query parameter, the first path
//! segment), and what an agent may send through it (methods, path prefixes, sizes, time, a
//! budget per agent). Pure data and its checks; the server does the forwarding.
//!
//! An agent authenticates with what its SDK already sends, in the place the real key goes:
//! the `Authorization` header of an OpenAI client, `x-api-key` of an Anthropic one, the
//! `/bot<token>/` segment of a Telegram one. [`Injection::credential_in`] finds it there.

use serde::{Deserialize, Serialize};

use crate::path::SecretPath;
use crate::placeholder::{self, Piece};

/// Longest route name.
pub const MAX_NAME_LEN: usize = 63;
/// Most injections a route makes.
pub const MAX_INJECTIONS: usize = 8;
/// Most methods or path prefixes a route lists.
pub const MAX_LIST: usize = 32;
/// Longest upstream URL, template or prefix.
pub const MAX_TEXT_LEN: usize = 2048;
/// Longest any timeout may be set to.
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;
/// Largest any size limit may be set to (request or response).
pub const MAX_SIZE_LIMIT: u64 = 4 * 1024 * 1024 * 1024;

/// Methods a route forwards when it names none.
pub const DEFAULT_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// The presets, by name.
pub const PRESETS: &[&str] = &["openai", "anthropic", "github", "telegram", "discord"];

/// A route's definition, as stored and as the API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Base URL requests go to: `https://api.openai.com/v1`; the path after `/proxy/<route>`
    /// is appended to it.
    pub upstream: String,
    /// Where values go.
    pub inject: Vec<Injection>,
    /// Methods forwarded (upper-case); empty: [`DEFAULT_METHODS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Path prefixes forwarded (after the route, each starting with `/`); empty: every path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_prefixes: Vec<String>,
    /// Time limits.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Size limits.
    #[serde(default)]
    pub limits: SizeLimits,
    /// What each agent may spend on this route.
    #[serde(default)]
    pub budget: Budget,
    /// The preset the route was made from, if any (shown, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

/// One place a value goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case", deny_unknown_fields)]
pub enum Injection {
    /// A header, set to the template (replacing what the agent sent under that name).
    Header {
        /// Header name.
        name: String,
        /// `Bearer {{secret:PATH}}`.
        value: String,
    },
    /// A query parameter, set to the template.
    Query {
        /// Parameter name.
        name: String,
        /// `{{secret:PATH}}`.
        value: String,
    },
    /// The first segment of the forwarded path, set to the template (`bot{{secret:PATH}}`).
    Path {
        /// The segment's template.
        value: String,
    },
}

/// Time limits of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// To connect to the upstream.
    pub connect_seconds: u64,
    /// From sending the request to the answer's headers (an LLM may think for minutes).
    pub answer_seconds: u64,
    /// Longest silence within a streamed answer or request body.
    pub idle_seconds: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect_seconds: 10, answer_seconds: 600, idle_seconds: 300 }
    }
}

/// Size limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizeLimits {
    /// Request body bytes.
    pub max_request_bytes: u64,
    /// Answer body bytes; a longer answer is cut.
    pub max_response_bytes: u64,
}

impl Default for SizeLimits {
    fn default() -> Self {
        Self { max_request_bytes: 32 * 1024 * 1024, max_response_bytes: 256 * 1024 * 1024 }
    }
}

/// What one agent may spend on one route; `None`: no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Calls per minute (a fixed window on the minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Calls per UTC day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_day: Option<u64>,
    /// Answer body bytes per UTC day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_bytes_per_day: Option<u64>,
    /// Calls in flight at once (a streamed answer counts until it ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u64>,
}

/// A route that cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct RouteError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> RouteError {
    RouteError { field, problem: problem.into() }
}

/// Checks a route name: lower-case letters, digits, `-` and `_`, starting with a letter or
/// digit; it is a path segment of every proxied URL.
///
/// # Errors
/// [`RouteError`] on `name`.
pub fn check_name(name: &str) -> Result<(), RouteError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad("name", format!("must be 1 to {MAX_NAME_LEN} lower-case letters, digits, - or _ (such as openai)")))
    }
}

/// A preset's route for the secret at `path`, with `upstream` in place of the provider's own
/// base URL when given. `None` for an unknown preset.
#[must_use]
pub fn preset(name: &str, path: &SecretPath, upstream: Option<&str>) -> Option<RouteSpec> {
    let secret = format!("{{{{secret:{}}}}}", path.as_str());
    let header = |name: &str, value: String| vec![Injection::Header { name: name.to_owned(), value }];
    let (base, inject, methods): (&str, Vec<Injection>, &[&str]) = match name {
        "openai" => ("https://api.openai.com/v1", header("Authorization", format!("Bearer {secret}")), &[]),
        "anthropic" => ("https://api.anthropic.com", header("x-api-key", secret), &[]),
        "github" => ("https://api.github.com", header("Authorization", format!("Bearer {secret}")), &[]),
        "telegram" => {
            ("https://api.telegram.org", vec![Injection::Path { value: format!("bot{secret}") }], &["GET", "POST"])
        }
        "discord" => ("https://discord.com/api", header("Authorization", format!("Bot {secret}")), &[]),
        _ => return None,
    };
    Some(RouteSpec {
        upstream: upstream.unwrap_or(base).to_owned(),
        inject,
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        path_prefixes: Vec::new(),
        timeouts: Timeouts::default(),
        limits: SizeLimits::default(),
        budget: Budget::default(),
        preset: Some(name.to_owned()),
    })
}

/// A route as written by someone making one: a preset (with the secret it injects) and any
/// field that replaces the preset's, or every field without a preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDraft {
    /// `openai`, `anthropic`, `github`, `telegram` or `discord`.
    pub preset: Option<String>,
    /// With a preset: the path of the secret it injects.
    pub secret: Option<String>,
    /// Base URL (a preset's provider when absent).
    pub upstream: Option<String>,
    /// Where values go (required without a preset).
    pub inject: Option<Vec<Injection>>,
    /// Methods forwarded.
    pub methods: Option<Vec<String>>,
    /// Path prefixes forwarded.
    pub path_prefixes: Option<Vec<String>>,
    /// Time limits.
    pub timeouts: Option<Timeouts>,
    /// Size limits.
    pub limits: Option<SizeLimits>,
    /// Each agent's budget.
    pub budget: Option<Budget>,
}

impl RouteDraft {
    /// The definition the draft describes, checked.
    ///
    /// # Errors
    /// [`RouteError`] naming the field at fault.
    pub fn build(self) -> Result<RouteSpec, RouteError> {
        let mut spec = match &self.preset {
            Some(name) => {
                let raw = self
                    .secret
                    .as_deref()
                    .ok_or_else(|| bad("secret", "is required with a preset: the path of the provider's key"))?;
                let path = SecretPath::parse(raw).map_err(|e| bad("secret", e.to_string()))?;
                preset(name, &path, self.upstream.as_deref())
                    .ok_or_else(|| bad("preset", format!("{name:?} is not one of {}", PRESETS.join(", "))))?
            }
            None => {
                if self.secret.is_some() {
                    return Err(bad("secret", "goes with a preset; without one, name secrets in inject's templates"));
                }
                RouteSpec {
                    upstream: self.upstream.clone().ok_or_else(|| bad("upstream", "is required without a preset"))?,
                    inject: self.inject.clone().ok_or_else(|| bad("inject", "is required without a preset"))?,
                    methods: Vec::new(),
                    path_prefixes: Vec::new(),
                    timeouts: Timeouts::default(),
                    limits: SizeLimits::default(),
                    budget: Budget::default(),
                    preset: None,
                }
            }
        };
        if let Some(inject) = self.inject {
            spec.inject = inject;
        }
        if let Some(methods) = self.methods {
            spec.methods = methods.into_iter().map(|m| m.to_ascii_uppercase()).collect();
        }
        if let Some(prefixes) = self.path_prefixes {
            spec.path_prefixes = prefixes;
        }
        if let Some(t) = self.timeouts {
            spec.timeouts = t;
        }
        if let Some(l) = self.limits {
            spec.limits = l;
        }
        if let Some(b) = self.budget {
            spec.budget = b;
        }
        spec.check()?;
        Ok(spec)
    }
}

/// An upstream base URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `http` or `https`.
    pub scheme: String,
    /// Host as written (a name, lower-case, or an IP literal, IPv6 in brackets).
    pub host: String,
    /// Port (the scheme's default when not written).
    pub port: u16,
    /// Base path without a trailing `/` (empty for the root).
    pub base_path: String,
}

impl Upstream {
    /// Whether the host is an IP address written literally.
    #[must_use]
    pub fn literal(&self) -> Option<std::net::IpAddr> {
        self.host.trim_start_matches('[').trim_end_matches(']').parse().ok()
    }
}

/// Takes an upstream base URL apart: `http(s)://host[:port][/base]`, no credentials, query or
/// fragment; plain `http` only to an address written literally (a key sent in the clear to a
/// name could be sent anywhere that name is made to resolve).
///
/// # Errors
/// [`RouteError`] on `upstream`.
pub fn parse_upstream(raw: &str) -> Result<Upstream, RouteError> {
    let problem = |p: &str| bad("upstream", p.to_owned());
    if raw.len() > MAX_TEXT_LEN {
        return Err(problem("is too long"));
    }
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| problem("must be an http:// or https:// URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(problem("must be an http:// or https:// URL"));
    }
    if rest.contains(['?', '#', '@', '\\']) || rest.contains("{{") {
        return Err(problem("may hold no user name, query, fragment or placeholder"));
    }
    if rest.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(problem("may hold no space, control or non-ASCII character"));
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| (&rest[..at], &rest[at..]));
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(|| problem("has an unclosed [ in its host"))?;
        (format!("[{addr}]"), after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty() || host == "[]" {
        return Err(problem("names no host"));
    }
    let port = match port {
        Some(p) => {
            p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| problem("has a port that is not 1 to 65535"))?
        }
        None if scheme == "https" => 443,
        None => 80,
    };
    let base_path = path.trim_end_matches('/').to_owned();
    if base_path.split('/').any(|s| s == "." || s == ".." || s.contains('%')) {
        return Err(problem("has a path with . or .. segments or percent-escapes"));
    }
    let upstream = Upstream { scheme, host, port, base_path };
    if upstream.literal().is_none() && upstream.host.starts_with('[') {
        return Err(problem("has a bracketed host that is not an IPv6 address"));
    }
    if upstream.scheme == "http" && upstream.literal().is_none() {
        return Err(problem(
            "is plain http to a name: the key would travel in the clear to wherever that name resolves; use https, or an IP address",
        ));
    }
    Ok(upstream)
}

impl Injection {
    fn template(&self) -> &str {
        match self {
            Self::Header { value, .. } | Self::Query { value, .. } | Self::Path { value } => value,
        }
    }

    /// The template, parsed.
    ///
    /// # Errors
    /// A malformed placeholder.
    pub fn pieces(&self) -> Result<Vec<Piece<'_>>, RouteError> {
        placeholder::parse(self.template()).map_err(|e| bad("inject", e.to_string()))
    }

    /// Where in this injection's place an agent's SDK put the agent's own credential, given
    /// what the agent sent there: the text that stands where the template's first placeholder
    /// stands (`Bearer <credential>` for `Bearer {{secret:…}}`; the scheme's case ignored).
    #[must_use]
    pub fn credential_in<'s>(&self, sent: &'s str) -> Option<&'s str> {
        let template = self.template();
        let open = template.find("{{secret:")?;
        let close = open + template[open..].find("}}")? + 2;
        let (before, after) = (&template[..open], &template[close..]);
        let starts = sent.len() >= before.len() + after.len()
            && sent.is_char_boundary(before.len())
            && sent[..before.len()].eq_ignore_ascii_case(before)
            && sent.is_char_boundary(sent.len() - after.len())
            && sent[sent.len() - after.len()..].eq_ignore_ascii_case(after);
        let credential = if starts { sent[before.len()..sent.len() - after.len()].trim() } else { return None };
        (!credential.is_empty()).then_some(credential)
    }
}

impl RouteSpec {
    /// Checks the whole definition.
    ///
    /// # Errors
    /// The first [`RouteError`] found.
    pub fn check(&self) -> Result<Upstream, RouteError> {
        let upstream = parse_upstream(&self.upstream)?;
        if self.inject.is_empty() {
            return Err(bad("inject", "is empty: a route puts at least one secret into the requests it forwards"));
        }
        if self.inject.len() > MAX_INJECTIONS {
            return Err(bad("inject", format!("has more than {MAX_INJECTIONS} entries")));
        }
        let mut paths = 0;
        let mut path_rules = 0;
        for injection in &self.inject {
            let template = injection.template();
            if template.len() > MAX_TEXT_LEN {
                return Err(bad("inject", "has a template that is too long"));
            }
            let pieces = injection.pieces()?;
            let used = placeholder::paths(&pieces).len();
            if used == 0 {
                return Err(bad("inject", format!("{template:?} holds no {{{{secret:PATH}}}}")));
            }
            paths += used;
            match injection {
                Injection::Header { name, .. } => {
                    let ok = !name.is_empty()
                        && name.len() <= 128
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                    if !ok {
                        return Err(bad("inject", format!("{name:?} is not a header name")));
                    }
                    if crate::egress::reserved_header(name) {
                        return Err(bad("inject", format!("{name} is set by the connection, not by a route")));
                    }
                    if template.bytes().any(|b| b < b' ' || b == 0x7f) {
                        return Err(bad("inject", "has a header template with a control character"));
                    }
                }
                Injection::Query { name, .. } => {
                    if name.is_empty()
                        || name.len() > 128
                        || name.bytes().any(|b| !b.is_ascii_graphic() || b"&=#".contains(&b))
                    {
                        return Err(bad("inject", format!("{name:?} is not a query parameter name")));
                    }
                }
                Injection::Path { .. } => {
                    path_rules += 1;
                    // Placeholders name paths (with `/`); the text around them is one segment.
                    let plain = pieces.iter().all(|p| match p {
                        Piece::Text(t) => !t.contains(['/', '?', '#', '%']) && t.bytes().all(|b| b > b' ' && b < 0x7f),
                        Piece::Secret(_) => true,
                    });
                    if !plain {
                        return Err(bad("inject", "has a path template that is not one plain segment"));
                    }
                    if pieces.iter().filter(|p| matches!(p, Piece::Secret(_))).count() != 1 {
                        return Err(bad("inject", "has a path template with more than one placeholder"));
                    }
                }
            }
        }
        if path_rules > 1 {
            return Err(bad("inject", "sets the first path segment more than once"));
        }
        if paths > placeholder::MAX_PLACEHOLDERS {
            return Err(bad("inject", format!("uses more than {} secrets", placeholder::MAX_PLACEHOLDERS)));
        }
        if self.methods.len() > MAX_LIST {
            return Err(bad("methods", format!("lists more than {MAX_LIST}")));
        }
        for m in &self.methods {
            if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&m.as_str()) {
                return Err(bad(
                    "methods",
                    format!("{m:?} is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
                ));
            }
        }
        if self.path_prefixes.len() > MAX_LIST {
            return Err(bad("path_prefixes", format!("lists more than {MAX_LIST}")));
        }
        for p in &self.path_prefixes {
            if !p.starts_with('/')
                || p.len() > MAX_TEXT_LEN
                || p.contains(['?', '#', '%', '\\'])
                || p.split('/').any(|s| s == "." || s == "..")
            {
                return Err(bad(
                    "path_prefixes",
                    format!("{p:?} must start with / and hold no ?, #, %, \\ or dot segment"),
                ));
            }
        }
        let t = self.timeouts;
        for (field, v) in [
            ("timeouts.connect_seconds", t.connect_seconds),
            ("timeouts.answer_seconds", t.answer_seconds),
            ("timeouts.idle_seconds", t.idle_seconds),
        ] {
            if v == 0 || v > MAX_TIMEOUT_SECONDS {
                return Err(bad(field, format!("must be 1 to {MAX_TIMEOUT_SECONDS}")));
            }
        }
        for (field, v) in [
            ("limits.max_request_bytes", self.limits.max_request_bytes),
            ("limits.max_response_bytes", self.limits.max_response_bytes),
        ] {
            if v == 0 || v > MAX_SIZE_LIMIT {
                return Err(bad(field, format!("must be 1 to {MAX_SIZE_LIMIT}")));
            }
        }
        let b = self.budget;
        for (field, v) in [
            ("budget.requests_per_minute", b.requests_per_minute),
            ("budget.requests_per_day", b.requests_per_day),
            ("budget.response_bytes_per_day", b.response_bytes_per_day),
            ("budget.concurrent", b.concurrent),
        ] {
            if v == Some(0) {
                return Err(bad(field, "must be at least 1 (leave it out for no limit)"));
            }
        }
        if let Some(p) = &self.preset
            && !PRESETS.contains(&p.as_str())
        {
            return Err(bad("preset", format!("{p:?} is not one of {}", PRESETS.join(", "))));
        }
        Ok(upstream)
    }

    /// Every secret path the route's injections use, each once.
    #[must_use]
    pub fn paths(&self) -> Vec<SecretPath> {
        let mut out: Vec<SecretPath> = Vec::new();
        for injection in &self.inject {
            for p in injection.pieces().map(|pieces| placeholder::paths(&pieces)).unwrap_or_default() {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Whether the route forwards `method`.
    #[must_use]
    pub fn allows_method(&self, method: &str) -> bool {
        if self.methods.is_empty() {
            DEFAULT_METHODS.contains(&method)
        } else {
            self.methods.iter().any(|m| m == method)
        }
    }

    /// Whether the route forwards `path` (after the route, starting with `/`): a listed prefix
    /// matches whole segments (`/v1/chat` allows `/v1/chat` and `/v1/chat/x`, not `/v1/chatx`),
    /// unless it ends with `/`.
    #[must_use]
    pub fn allows_path(&self, path: &str) -> bool {
        self.path_prefixes.is_empty()
            || self.path_prefixes.iter().any(|p| {
                path.starts_with(p.as_str())
                    && (p.ends_with('/') || path.len() == p.len() || path.as_bytes().get(p.len()) == Some(&b'/'))
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn path(p: &str) -> SecretPath {
        SecretPath::parse(p).unwrap()
    }

    #[test]
    fn every_preset_is_a_valid_route() {
        for name in PRESETS {
            let spec = preset(name, &path("providers/key"), None).unwrap();
            spec.check().unwrap();
            assert_eq!(spec.paths(), vec![path("providers/key")]);
        }
        assert!(preset("gopher", &path("a"), None).is_none());
        let moved = preset("openai", &path("a"), Some("http://127.0.0.1:9000/v1")).unwrap();
        assert_eq!(moved.check().unwrap().port, 9000);
    }

    #[test]
    fn the_agent_credential_is_found_where_the_real_one_goes() {
        let bearer = Injection::Header { name: "Authorization".into(), value: "Bearer {{secret:a}}".into() };
        assert_eq!(bearer.credential_in("Bearer ocv_abc"), Some("ocv_abc"));
        assert_eq!(bearer.credential_in("bearer ocv_abc"), Some("ocv_abc"));
        assert_eq!(bearer.credential_in("Basic ocv_abc"), None);
        assert_eq!(bearer.credential_in("Bearer "), None);
        let bot = Injection::Path { value: "bot{{secret:a}}".into() };
        assert_eq!(bot.credential_in("botocv_x"), Some("ocv_x"));
        assert_eq!(bot.credential_in("ocv_x"), None);
        let plain = Injection::Header { name: "x-api-key".into(), value: "{{secret:a}}".into() };
        assert_eq!(plain.credential_in("ocv_x"), Some("ocv_x"));
        assert_eq!(plain.credential_in("é"), Some("é"));
    }

    #[test]
    fn upstreams_are_checked() {
        let u = parse_upstream("https://API.example.com/v1/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.base_path.as_str()), ("api.example.com", 443, "/v1"));
        assert_eq!(parse_upstream("http://[::1]:8080").unwrap().host, "[::1]");
        for bad in [
            "ftp://a.example",
            "https://user@a.example",
            "https://a.example/?q",
            "https://a.example/#f",
            "http://a.example",
            "https://a.example:0",
            "https://a.example:99999",
            "https://a.example/../x",
            "https://a.example/%2e%2e",
            "https://",
            "https://a.example/{{secret:x}}",
            "https://a b.example",
            "https://[zz]/",
        ] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn definitions_are_checked() {
        let good = preset("openai", &path("k"), None).unwrap();
        let with = |f: &dyn Fn(&mut RouteSpec)| {
            let mut s = good.clone();
            f(&mut s);
            s.check().map(|_| ()).map_err(|e| e.field)
        };
        assert_eq!(with(&|s| s.inject.clear()), Err("inject"));
        assert_eq!(
            with(&|s| s.inject = vec![Injection::Header { name: "Host".into(), value: "{{secret:k}}".into() }]),
            Err("inject")
        );
        assert_eq!(
            with(&|s| s.inject = vec![Injection::Header { name: "x".into(), value: "no placeholder".into() }]),
            Err("inject")
        );
        assert_eq!(with(&|s| s.inject = vec![Injection::Path { value: "a/{{secret:k}}".into() }]), Err("inject"));
        assert_eq!(with(&|s| s.inject = vec![Injection::Path { value: "bot{{secret:bots/tg}}".into() }]), Ok(()));
        assert_eq!(with(&|s| s.methods = vec!["TRACE".into()]), Err("methods"));
        assert_eq!(with(&|s| s.path_prefixes = vec!["v1".into()]), Err("path_prefixes"));
        assert_eq!(with(&|s| s.path_prefixes = vec!["/v1/../admin".into()]), Err("path_prefixes"));
        assert_eq!(with(&|s| s.timeouts.answer_seconds = 0), Err("timeouts.answer_seconds"));
        assert_eq!(with(&|s| s.limits.max_request_bytes = 0), Err("limits.max_request_bytes"));
        assert_eq!(with(&|s| s.budget.concurrent = Some(0)), Err("budget.concurrent"));
        assert_eq!(with(&|s| s.preset = Some("x".into())), Err("preset"));
        assert!(check_name("openai-2").is_ok());
        for bad in ["", "-a", "A", "a/b", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let mut s = preset("openai", &path("k"), None).unwrap();
        s.path_prefixes = vec!["/chat".into(), "/files/".into()];
        assert!(s.allows_path("/chat"));
        assert!(s.allows_path("/chat/completions"));
        assert!(!s.allows_path("/chatx"));
        assert!(s.allows_path("/files/x"));
        assert!(!s.allows_path("/files"));
        assert!(s.allows_method("POST"));
        assert!(!s.allows_method("TRACE"));
    }

    #[test]
    fn drafts_start_from_a_preset_or_from_nothing() {
        let draft = RouteDraft {
            preset: Some("telegram".into()),
            secret: Some("bots/tg".into()),
            upstream: Some("http://127.0.0.1:9000".into()),
            budget: Some(Budget { requests_per_minute: Some(5), ..Budget::default() }),
            ..RouteDraft::default()
        };
        let spec = draft.build().unwrap();
        assert_eq!(spec.upstream, "http://127.0.0.1:9000");
        assert_eq!(spec.budget.requests_per_minute, Some(5));
        assert_eq!(spec.inject, vec![Injection::Path { value: "bot{{secret:bots/tg}}".into() }]);
        let field = |d: RouteDraft| d.build().unwrap_err().field;
        assert_eq!(field(RouteDraft { preset: Some("openai".into()), ..RouteDraft::default() }), "secret");
        assert_eq!(field(RouteDraft { secret: Some("a".into()), ..RouteDraft::default() }), "secret");
        assert_eq!(field(RouteDraft { upstream: Some("https://a.example".into()), ..RouteDraft::default() }), "inject");
        let custom = RouteDraft {
            upstream: Some("https://a.example".into()),
            inject: Some(vec![Injection::Query { name: "key".into(), value: "{{secret:k}}".into() }]),
            methods: Some(vec!["get".into()]),
            ..RouteDraft::default()
        };
        assert_eq!(custom.build().unwrap().methods, vec!["GET"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = r#"{"upstream":"https://a.example","inject":[{"in":"header","name":"x","value":"{{secret:k}}"}],"extra":1}"#;
        assert!(serde_json::from_str::<RouteSpec>(text).is_err());
    }
}
