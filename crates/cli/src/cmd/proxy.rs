//! `clawvault proxy ...`: the routes of the credential-injecting proxy, and what each agent
//! spent on them.

use anyhow::Result;
use clap::{Args, Subcommand};
use clawvault_client::{Client, ProxyRoute};
use serde_json::{Value, json};

use super::{confirm_delete, split_reference};
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};
use crate::principals::Principals;

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Make, list, show and delete routes (admins make and delete).
    #[command(
        subcommand,
        after_help = "\
Examples:
  clawvault proxy route add openai --preset openai --secret prod/providers/openai
  clawvault proxy route list
  clawvault proxy route show openai
  clawvault proxy route delete openai --yes"
    )]
    Route(RouteCommand),
    /// Calls and answer bytes per day, route and agent (your own; admins everyone's).
    #[command(after_help = "\
Examples:
  clawvault proxy usage
  clawvault proxy usage --days 7 --route openai
  clawvault proxy usage --agent discord-bot --json")]
    Usage {
        /// Days back from today (0: today only).
        #[arg(long, default_value_t = 0, value_name = "N")]
        days: i64,
        /// Only this route.
        #[arg(long, value_name = "ROUTE")]
        route: Option<String>,
        /// Only this agent (id or name; admins for another's).
        #[arg(long, value_name = "AGENT")]
        agent: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Make a route: a preset with the secret it injects, or an upstream with injections.
    #[command(after_help = "\
Examples:
  clawvault proxy route add openai --preset openai --secret prod/providers/openai
  clawvault proxy route add tg --preset telegram --secret prod/bots/telegram \\
      --requests-per-minute 30 --requests-per-day 5000
  clawvault proxy route add llm --vault prod --upstream https://llm.example.com/v1 \\
      --header 'Authorization: Bearer {{secret:providers/llm}}'
  clawvault proxy route add openai --preset openai --secret prod/providers/openai-2 --replace

Presets: openai, anthropic, github, telegram, discord. An agent sets its SDK's base URL to
SERVER/proxy/NAME and passes its own key (ocv_...) as the API key; it needs `use` on the
route's secrets. A secret whose metadata names allowed_hosts goes only to those hosts.")]
    Add(Box<RouteAdd>),
    /// List the routes.
    #[command(after_help = "Examples:\n  clawvault proxy route list\n  clawvault proxy route list --json")]
    List,
    /// Show one route.
    #[command(after_help = "Examples:\n  clawvault proxy route show openai")]
    Show {
        /// Route name.
        name: String,
    },
    /// Delete a route; calls through it stop at once.
    #[command(after_help = "Examples:\n  clawvault proxy route delete openai --yes")]
    Delete {
        /// Route name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `clawvault proxy route add`.
#[derive(Debug, Args)]
pub struct RouteAdd {
    /// Route name: the segment after /proxy/ (lower-case letters, digits, - and _).
    name: String,
    /// openai, anthropic, github, telegram or discord.
    #[arg(long, value_name = "PRESET", requires = "secret")]
    preset: Option<String>,
    /// With --preset: the secret it injects, as VAULT/PATH.
    #[arg(long, value_name = "VAULT/PATH", requires = "preset")]
    secret: Option<String>,
    /// Without --preset: the vault of the secrets the injections name.
    #[arg(long, value_name = "VAULT", conflicts_with = "secret")]
    vault: Option<String>,
    /// Base URL calls go to (a preset's provider by default).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Set a header: 'NAME: TEMPLATE', the template naming secrets as {{secret:PATH}}.
    #[arg(long = "header", value_name = "'NAME: TEMPLATE'")]
    headers: Vec<String>,
    /// Set a query parameter: 'NAME=TEMPLATE'.
    #[arg(long = "query", value_name = "NAME=TEMPLATE")]
    queries: Vec<String>,
    /// Set the first path segment: 'bot{{secret:PATH}}'.
    #[arg(long, value_name = "TEMPLATE")]
    path_segment: Option<String>,
    /// Forward only this method; repeat for more.
    #[arg(long = "method", value_name = "METHOD")]
    methods: Vec<String>,
    /// Forward only paths under this prefix; repeat for more.
    #[arg(long = "path-prefix", value_name = "PREFIX")]
    path_prefixes: Vec<String>,
    /// Each agent's calls per minute.
    #[arg(long, value_name = "N")]
    requests_per_minute: Option<u64>,
    /// Each agent's calls per UTC day.
    #[arg(long, value_name = "N")]
    requests_per_day: Option<u64>,
    /// Each agent's answer bytes per UTC day.
    #[arg(long, value_name = "BYTES")]
    response_bytes_per_day: Option<u64>,
    /// Each agent's calls in flight at once.
    #[arg(long, value_name = "N")]
    concurrent: Option<u64>,
    /// Seconds the upstream has to start answering.
    #[arg(long, value_name = "SECONDS")]
    answer_timeout: Option<u64>,
    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_request_bytes: Option<u64>,
    /// Largest answer body, in bytes (a longer one is cut).
    #[arg(long, value_name = "BYTES")]
    max_response_bytes: Option<u64>,
    /// Replace the route of this name instead of making a new one.
    #[arg(long)]
    replace: bool,
}

impl RouteAdd {
    /// The API's body for this route.
    fn body(&self) -> Result<Value> {
        let mut body = serde_json::Map::new();
        body.insert("name".into(), json!(self.name));
        match (&self.secret, &self.vault) {
            (Some(reference), _) => {
                let (vault, path) = split_reference(reference)?;
                body.insert("vault".into(), json!(vault));
                body.insert("secret".into(), json!(path));
                body.insert("preset".into(), json!(self.preset));
            }
            (None, Some(vault)) => {
                body.insert("vault".into(), json!(vault));
            }
            (None, None) => {
                return Err(Coded::invalid(
                    "give --preset P --secret VAULT/PATH, or --vault V --upstream URL with --header, --query or --path-segment",
                ));
            }
        }
        let mut inject = Vec::new();
        for h in &self.headers {
            let (name, value) =
                h.split_once(':').ok_or_else(|| Coded::invalid(format!("--header {h:?} is not 'NAME: TEMPLATE'")))?;
            inject.push(json!({"in": "header", "name": name.trim(), "value": value.trim()}));
        }
        for q in &self.queries {
            let (name, value) =
                q.split_once('=').ok_or_else(|| Coded::invalid(format!("--query {q:?} is not 'NAME=TEMPLATE'")))?;
            inject.push(json!({"in": "query", "name": name, "value": value}));
        }
        if let Some(segment) = &self.path_segment {
            inject.push(json!({"in": "path", "value": segment}));
        }
        if !inject.is_empty() {
            body.insert("inject".into(), Value::Array(inject));
        }
        if let Some(u) = &self.upstream {
            body.insert("upstream".into(), json!(u));
        }
        if !self.methods.is_empty() {
            body.insert("methods".into(), json!(self.methods));
        }
        if !self.path_prefixes.is_empty() {
            body.insert("path_prefixes".into(), json!(self.path_prefixes));
        }
        let budget = some_fields(&[
            ("requests_per_minute", self.requests_per_minute),
            ("requests_per_day", self.requests_per_day),
            ("response_bytes_per_day", self.response_bytes_per_day),
            ("concurrent", self.concurrent),
        ]);
        if let Some(b) = budget {
            body.insert("budget".into(), b);
        }
        if let Some(t) = some_fields(&[("answer_seconds", self.answer_timeout)]) {
            body.insert("timeouts".into(), t);
        }
        let limits = some_fields(&[
            ("max_request_bytes", self.max_request_bytes),
            ("max_response_bytes", self.max_response_bytes),
        ]);
        if let Some(l) = limits {
            body.insert("limits".into(), l);
        }
        Ok(Value::Object(body))
    }
}

/// `{name: value}` of the fields given, or `None` when none is.
fn some_fields(fields: &[(&str, Option<u64>)]) -> Option<Value> {
    let map: serde_json::Map<String, Value> =
        fields.iter().filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), json!(v)))).collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

/// Runs a `proxy` command.
///
/// # Errors
/// API errors, invalid input.
pub async fn run(global: &Global, command: ProxyCommand) -> Result<()> {
    let client = context::client(global)?;
    match command {
        ProxyCommand::Route(RouteCommand::Add(add)) => {
            let body = add.body()?;
            let route = client.put_proxy_route(&add.name, &body, add.replace).await?;
            if global.json {
                return output::json(&route_json(&route));
            }
            let verb = if add.replace { "Replaced" } else { "Made" };
            println!("{verb} route {} → {}.", route.name, text(&route.route["upstream"]));
            println!(
                "Point an agent's SDK at {}{} with the agent's key as its API key; it needs `use` on {}.",
                client.address(),
                route.base_path,
                secrets_of(&route).join(", ")
            );
            Ok(())
        }
        ProxyCommand::Route(RouteCommand::List) => {
            let routes = client.proxy_routes().await?;
            if global.json {
                return output::json(&routes.iter().map(route_json).collect::<Vec<_>>());
            }
            if routes.is_empty() {
                println!("No routes yet: clawvault proxy route add NAME --preset openai --secret VAULT/PATH");
                return Ok(());
            }
            let mut t = Table::new(vec!["NAME", "UPSTREAM", "SECRETS", "BUDGET", "PRESET"]);
            for r in &routes {
                t.row(vec![
                    r.name.clone(),
                    text(&r.route["upstream"]),
                    secrets_of(r).join(", "),
                    budget_text(&r.route["budget"]),
                    r.route["preset"].as_str().unwrap_or("-").to_owned(),
                ]);
            }
            print!("{}", t.render());
            Ok(())
        }
        ProxyCommand::Route(RouteCommand::Show { name }) => {
            let r = client.proxy_route(&name).await?;
            if global.json {
                return output::json(&route_json(&r));
            }
            print!("{}", show_text(&client, &r));
            Ok(())
        }
        ProxyCommand::Route(RouteCommand::Delete { name, yes }) => {
            confirm_delete(yes, &name, "proxy route")?;
            client.delete_proxy_route(&name).await?;
            output::done(global.json, "deleted", &name, &format!("Deleted route {name}; calls through it stop now."))
        }
        ProxyCommand::Usage { days, route, agent } => {
            let principal = match &agent {
                Some(raw) => Some(Principals::load(&client, false).await.resolve(raw)?),
                None => None,
            };
            let rows = client.proxy_usage(days, route.as_deref(), principal).await?;
            if global.json {
                let rows: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        json!({"day": r.day, "route": r.route, "principal_id": r.principal_id,
                               "principal": r.principal, "requests": r.requests, "response_bytes": r.response_bytes})
                    })
                    .collect();
                return output::json(&rows);
            }
            if rows.is_empty() {
                println!("No proxied calls in that time.");
                return Ok(());
            }
            let mut t = Table::new(vec!["DAY", "ROUTE", "IDENTITY", "REQUESTS", "ANSWER BYTES"]);
            for r in &rows {
                t.row(vec![
                    r.day.clone(),
                    r.route.clone(),
                    r.principal.clone(),
                    r.requests.to_string(),
                    r.response_bytes.to_string(),
                ]);
            }
            print!("{}", t.render());
            Ok(())
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_owned()
}

/// The `vault/path` of each secret the route's injections name.
fn secrets_of(r: &ProxyRoute) -> Vec<String> {
    let vault = r.vault.clone().unwrap_or_else(|| "(deleted vault)".into());
    let mut out: Vec<String> = Vec::new();
    for i in r.route["inject"].as_array().into_iter().flatten() {
        let template = i["value"].as_str().unwrap_or_default();
        for part in template.split("{{secret:").skip(1) {
            if let Some((path, _)) = part.split_once("}}") {
                let s = format!("{vault}/{}", path.trim());
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

fn budget_text(b: &Value) -> String {
    let parts: Vec<String> = [
        ("requests_per_minute", "/min"),
        ("requests_per_day", "/day"),
        ("response_bytes_per_day", " B/day"),
        ("concurrent", " at once"),
    ]
    .iter()
    .filter_map(|(k, unit)| b[*k].as_u64().map(|n| format!("{n}{unit}")))
    .collect();
    if parts.is_empty() { "-".to_owned() } else { parts.join(", ") }
}

fn show_text(client: &Client, r: &ProxyRoute) -> String {
    let inject: Vec<String> = r.route["inject"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| match i["in"].as_str() {
            Some("header") => format!("header {}: {}", text(&i["name"]), text(&i["value"])),
            Some("query") => format!("query {}={}", text(&i["name"]), text(&i["value"])),
            _ => format!("path segment {}", text(&i["value"])),
        })
        .collect();
    let methods = r.route["methods"].as_array().map_or_else(
        || "GET, HEAD, POST, PUT, PATCH, DELETE".to_owned(),
        |m| m.iter().map(text).collect::<Vec<_>>().join(", "),
    );
    let prefixes = r.route["path_prefixes"]
        .as_array()
        .map_or_else(|| "every path".to_owned(), |m| m.iter().map(text).collect::<Vec<_>>().join(", "));
    let t = &r.route["timeouts"];
    let l = &r.route["limits"];
    let mut rows = vec![
        ("name", r.name.clone()),
        ("base url", format!("{}{}", client.address(), r.base_path)),
        ("upstream", text(&r.route["upstream"])),
        ("preset", r.route["preset"].as_str().unwrap_or("-").to_owned()),
        ("injects", inject.join("; ")),
        ("secrets", secrets_of(r).join(", ")),
        ("methods", methods),
        ("paths", prefixes),
        ("budget", budget_text(&r.route["budget"])),
        (
            "timeouts",
            format!(
                "connect {} s, answer {} s, idle {} s",
                t["connect_seconds"], t["answer_seconds"], t["idle_seconds"]
            ),
        ),
        ("limits", format!("request {} B, answer {} B", l["max_request_bytes"], l["max_response_bytes"])),
        ("updated", short_time(&r.updated_at)),
    ];
    if let Some(p) = &r.problem {
        rows.push(("problem", p.clone()));
    }
    output::fields(&rows)
}

fn route_json(r: &ProxyRoute) -> Value {
    json!({
        "name": r.name, "base_path": r.base_path, "vault": r.vault, "vault_id": r.vault_id,
        "route": r.route, "created_by": r.created_by, "created_at": r.created_at,
        "updated_at": r.updated_at, "problem": r.problem,
    })
}
