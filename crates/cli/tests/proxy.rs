//! The credential-injecting proxy against the real server and a plain upstream on loopback
//! that records what reaches it: routes managed from the CLI by admins only; size limits
//! refuse a large request before it is sent and cut a large answer; an upstream redirect is
//! handed back and the key never follows it; a credential sent as a query parameter is
//! replaced, never forwarded; a route made or deleted on one PostgreSQL replica applies on the
//! other at once.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{TestServer, admin_env, key_env, run};
use serde_json::{Value, json};

const KEY: &str = "sk-proxy-canary-4b1d9e07c2a8";

/// What one request to the upstream carried.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
    body_len: usize,
}

/// An HTTP/1.1 upstream on 127.0.0.1: `/redirect` answers 302 to `elsewhere`, `/big` 5,000
/// bytes, anything else `ok`; every request it reads whole is recorded.
struct Upstream {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    fn start(elsewhere: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (record, elsewhere) = (Arc::clone(&seen), elsewhere.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (record, elsewhere) = (Arc::clone(&record), elsewhere.clone());
                std::thread::spawn(move || serve(stream, &record, &elsewhere));
            }
        });
        Self { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: std::net::TcpStream, record: &Mutex<Vec<Seen>>, elsewhere: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(len) = header("content-length") {
            body.resize(len.parse().unwrap(), 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        } else if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        record.lock().unwrap().push(Seen { target: target.clone(), headers, body_len: body.len() });
        let reply = if target.starts_with("/redirect") {
            format!("HTTP/1.1 302 Found\r\nLocation: {elsewhere}/stolen\r\nContent-Length: 0\r\n\r\n")
        } else if target.starts_with("/big") {
            format!("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{}", "b".repeat(5000))
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned()
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// A server with a vault `prod` holding the provider key, and an agent that may use it.
struct World {
    s: TestServer,
    admin: String,
    agent_key: String,
}

fn world_on(s: TestServer) -> World {
    let admin = s.admin_token();
    let v = s.vault(&admin, "prod");
    s.put_secret(&admin, &v, "providers/key", KEY);
    let (id, agent_key) = s.new_agent(&admin, json!({ "name": "bot" }));
    s.grant(&admin, &v, ("agent", &id), "providers/**", &["use"], json!({}));
    World { s, admin, agent_key }
}

fn make_route(w: &World, body: Value) -> u16 {
    w.s.post(&w.admin, "/v1/proxy/routes").json(&body).send().unwrap().status().as_u16()
}

#[test]
fn routes_are_managed_from_the_cli_by_admins_only() {
    let w = world_on(TestServer::start());
    let up = Upstream::start("http://127.0.0.2:9");
    let home = tempfile::tempdir().unwrap();
    let admin = admin_env(&w.s, home.path());
    let upstream = format!("{}/v1", up.url());
    let add = ["proxy", "route", "add", "openai", "--preset", "openai", "--secret", "prod/providers/key"];
    let (code, out, err) =
        run(&admin, &[&add[..], &["--upstream", &upstream, "--requests-per-minute", "5"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Made route openai") && out.contains("/proxy/openai") && out.contains("prod/providers/key"),
        "{out}"
    );
    let (code, _, err) = run(&admin, &add, None);
    assert_eq!(code, 8, "a second route of that name is a conflict: {err}");

    let (code, out, _) = run(&admin, &["proxy", "route", "list"], None);
    assert_eq!(code, 0);
    assert!(out.contains("openai") && out.contains("5/min") && out.contains(&upstream), "{out}");
    let (_, out, _) = run(&admin, &["proxy", "route", "list", "--json"], None);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["route"]["budget"]["requests_per_minute"], 5);
    assert_eq!(listed[0]["route"]["inject"][0]["value"], "Bearer {{secret:providers/key}}");
    let (_, out, _) = run(&admin, &["proxy", "route", "show", "openai"], None);
    assert!(out.contains("header Authorization: Bearer {{secret:providers/key}}"), "{out}");
    assert!(!out.contains(KEY) && !listed.to_string().contains(KEY), "a route shows templates, never values");

    // The agent calls through it with its own key.
    let r = w.s.http.get(w.s.url("/proxy/openai/models")).bearer_auth(&w.agent_key).send().unwrap();
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (200, "ok".to_owned()));
    let seen = up.seen();
    assert_eq!(seen.last().unwrap().target, "/v1/models");

    // Members and agents manage nothing; agents read no routes.
    let (_, member_key) = w.s.new_user(&w.admin, "mia", "member");
    let (code, _, err) = run(&key_env(&w.s, home.path(), &member_key), &[&add[..], &["--replace"]].concat(), None);
    assert_eq!(code, 5, "{err}");
    let (code, out, _) = run(&key_env(&w.s, home.path(), &member_key), &["proxy", "route", "list", "--json"], None);
    assert_eq!(code, 0, "users read routes: {out}");
    let (code, _, err) = run(&key_env(&w.s, home.path(), &w.agent_key), &["proxy", "route", "list"], None);
    assert_eq!(code, 5, "{err}");
    let (code, _, err) = run(&admin, &["proxy", "route", "add", "x", "--preset", "gopher", "--secret", "prod/a"], None);
    assert!(code == 9 && err.contains("preset"), "{err}");

    // Replaced: the next call uses the new definition.
    let (code, _, err) =
        run(&admin, &[&add[..], &["--upstream", &upstream, "--path-prefix", "/chat", "--replace"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    let r = w.s.http.get(w.s.url("/proxy/openai/models")).bearer_auth(&w.agent_key).send().unwrap();
    assert_eq!(r.status(), 403, "the replaced route forwards /chat only");

    // Usage: the agent sees its own.
    let (code, out, _) = run(&key_env(&w.s, home.path(), &w.agent_key), &["proxy", "usage", "--json"], None);
    assert_eq!(code, 0);
    let usage: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(usage[0]["requests"], 1, "{usage}");
    assert_eq!(usage[0]["principal"], "bot");

    let (code, _, _) = run(&admin, &["proxy", "route", "delete", "openai", "--yes"], None);
    assert_eq!(code, 0);
    let r = w.s.http.get(w.s.url("/proxy/openai/chat")).bearer_auth(&w.agent_key).send().unwrap();
    assert_eq!(r.status(), 404, "a deleted route stops at once");
}

#[test]
fn limits_redirects_and_a_credential_in_the_query() {
    let w = world_on(TestServer::start());
    let elsewhere = Upstream::start("http://127.0.0.2:9");
    let up = Upstream::start(&elsewhere.url());
    let inject = json!([{ "in": "header", "name": "Authorization", "value": "Bearer {{secret:providers/key}}" }]);
    let status = make_route(
        &w,
        json!({ "name": "small", "vault": "prod", "upstream": up.url(), "inject": inject,
                "limits": { "max_request_bytes": 1000, "max_response_bytes": 1000 } }),
    );
    assert_eq!(status, 201);
    let call = |method: reqwest::Method, path: &str| {
        w.s.http.request(method, w.s.url(&format!("/proxy/small{path}"))).bearer_auth(&w.agent_key)
    };

    // A body over the limit: refused before anything is sent when its length is announced;
    // cut off (and refused) when it is streamed.
    let r = call(reqwest::Method::POST, "/upload").body(vec![b'x'; 2000]).send().unwrap();
    assert_eq!(r.status(), 413);
    assert!(up.seen().is_empty(), "nothing was sent");
    let streamed = {
        let mut conn = std::net::TcpStream::connect(w.s.base.trim_start_matches("http://")).unwrap();
        let head = format!(
            "POST /proxy/small/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
            w.agent_key
        );
        conn.write_all(head.as_bytes()).unwrap();
        for _ in 0..4 {
            let _ = conn.write_all(format!("258\r\n{}\r\n", "y".repeat(600)).as_bytes());
        }
        let _ = conn.write_all(b"0\r\n\r\n");
        let mut status = String::new();
        BufReader::new(conn).read_line(&mut status).unwrap();
        status.split_whitespace().nth(1).unwrap_or_default().parse::<u16>().unwrap_or(0)
    };
    assert_eq!(streamed, 413);
    assert!(up.seen().iter().all(|s| s.body_len <= 1000), "no more than the limit went upstream");

    // An answer over the limit is cut, and the caller sees it broken off, not complete.
    let r = call(reqwest::Method::GET, "/big").send().unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes();
    assert!(body.is_err() || body.unwrap().len() <= 1000, "the answer was cut");

    // A redirect comes back as it is; the key does not follow it.
    let client = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.get(w.s.url("/proxy/small/redirect")).bearer_auth(&w.agent_key).send().unwrap();
    assert_eq!(r.status(), 302, "handed back, not followed");
    assert_eq!(r.headers()["location"], format!("{}/stolen", elsewhere.url()).as_str());
    assert!(elsewhere.seen().is_empty());

    // A route that puts the key in the query: the agent's key sent there is replaced.
    let status = make_route(
        &w,
        json!({ "name": "q", "vault": "prod", "upstream": up.url(),
                "inject": [{ "in": "query", "name": "key", "value": "{{secret:providers/key}}" }] }),
    );
    assert_eq!(status, 201);
    let url = w.s.url(&format!("/proxy/q/search?key={}&q=cats", w.agent_key));
    let r = w.s.http.get(url).send().unwrap();
    assert_eq!(r.status(), 200);
    let last = up.seen().last().unwrap().clone();
    assert_eq!(last.target, format!("/search?q=cats&key={KEY}"));
    assert!(!format!("{last:?}").contains(&w.agent_key), "the agent's key never goes upstream");
    assert!(last.headers.iter().all(|(k, _)| k != "authorization"));
}

#[test]
fn a_route_made_on_one_replica_is_used_at_once_on_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, r0, r1) = common::two_replicas(tmp.path());
    let w = world_on(r0);
    let up = Upstream::start("http://127.0.0.2:9");
    let body = json!({ "name": "shared", "vault": "prod", "upstream": up.url(), "budget": { "requests_per_day": 3 },
                       "inject": [{ "in": "header", "name": "x-api-key", "value": "{{secret:providers/key}}" }] });
    assert_eq!(make_route(&w, body), 201);
    let call = |s: &TestServer| s.http.get(s.url("/proxy/shared/x")).header("x-api-key", &w.agent_key).send().unwrap();
    assert_eq!(call(&r1).status(), 200, "the other replica knows the route at once");
    assert_eq!(call(&w.s).status(), 200);
    let seen = up.seen();
    assert!(seen.iter().all(|s| s.headers.contains(&("x-api-key".into(), KEY.into()))));
    // The day's budget adds up across replicas (each writes its counts within a second).
    common::wait_for("both replicas' counts are written", 10, || {
        let usage: Value = w.s.get(&w.admin, "/v1/proxy/usage").send().unwrap().json().unwrap();
        usage["usage"][0]["requests"] == 2
    });
    assert_eq!(call(&r1).status(), 200);
    // Read on the first replica: its answer also refreshes its own view of the day's total.
    common::wait_for("the third call is counted", 10, || {
        let usage: Value = w.s.get(&w.admin, "/v1/proxy/usage").send().unwrap().json().unwrap();
        usage["usage"][0]["requests"] == 3
    });
    // The read that saw 3 may have refreshed that view just before the other replica's count
    // landed; one more refreshes it after.
    assert_eq!(w.s.get(&w.admin, "/v1/proxy/usage").send().unwrap().status(), 200);
    assert_eq!(call(&w.s).status(), 429, "three calls a day, on whichever replica");
    assert_eq!(w.s.delete(&w.admin, "/v1/proxy/routes/shared").send().unwrap().status(), 204);
    assert_eq!(call(&r1).status(), 404, "deleted on one replica, gone on the other");
    drop((w, r1));
    common::drop_database(&url);
}
