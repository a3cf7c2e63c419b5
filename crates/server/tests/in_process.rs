//! The router and the service layer driven in-process, without a socket: what the request
//! pipeline does (problem bodies, authentication, HEAD refusals), and rules no surface
//! exposes yet (the `use` permission, which the coming proxy and `run` will rely on).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use clawvault_server::service::{authenticate, reveal::Purpose, secrets};
use clawvault_server::{Config, Overrides, Server};
use serde_json::{Value, json};
use tower::ServiceExt;

const CANARY: &str = "canary-in-process-7f3a9c";

struct Harness {
    _dir: tempfile::TempDir,
    server: Server,
    admin: String,
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        let server = Server::start(Config::load(&overrides).unwrap()).await.unwrap();
        let admin = server.new_admin_key().unwrap().expose().to_owned();
        Self { _dir: dir, server, admin }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(b) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
        }
        let req = match body {
            Some(v) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = clawvault_server::app(self.server.state().clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type =
            resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Value {
        let (status, _, v) = self.call(method, uri, Some(&self.admin), body).await;
        assert!(status.is_success(), "{uri}: {status} {v}");
        v
    }

    /// An agent holding `permissions` on every path of the default vault; its key.
    async fn agent(&self, permissions: &[&str]) -> String {
        let created = self.admin(Method::POST, "/v1/agents", Some(json!({"name": "in-process"}))).await;
        let id = created["agent"]["id"].as_str().unwrap().to_owned();
        if !permissions.is_empty() {
            let policy = json!({"principal_type": "agent", "principal_id": id, "secret_path_pattern": "**", "permissions": permissions});
            self.admin(Method::POST, "/v1/vaults/default/policies", Some(policy)).await;
        }
        created["api_key"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn errors_are_problem_documents_and_credentials_are_required() {
    let h = Harness::start().await;
    let (status, content_type, body) = h.call(Method::GET, "/v1/vaults", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], 401);
    assert!(body["detail"].as_str().unwrap().contains("Authorization"), "{body}");

    let (status, _, body) = h.call(Method::GET, "/v1/vaults", Some("1ck_not-a-key"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let (status, content_type, body) = h.call(Method::GET, "/v1/vaults", Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body["vaults"][0]["name"], "default");
}

#[tokio::test]
async fn value_revealing_routes_refuse_head() {
    let h = Harness::start().await;
    h.admin(Method::PUT, "/v1/vaults/default/secrets/db/password", Some(json!({"value": CANARY}))).await;
    let (status, _, _) = h.call(Method::HEAD, "/v1/vaults/default/secrets/db/password", Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn use_is_a_permission_of_its_own() {
    let h = Harness::start().await;
    h.admin(Method::PUT, "/v1/vaults/default/secrets/db/password", Some(json!({"value": CANARY}))).await;
    let state = h.server.state();
    let caller = |key: String| async move { authenticate::caller(state, &key, None, "test").await.unwrap() };

    // `use` alone: the value can be used, never revealed.
    let user = caller(h.agent(&["use"]).await).await;
    let refused = secrets::read(state, &user, "default", "db/password", None).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{refused}");
    assert!(!refused.to_string().contains(CANARY));
    let used = secrets::open(state, &user, Purpose::Use, "default", "db/password", None).await.unwrap();
    assert_eq!(used.value.expose_str(), Some(CANARY));

    // `read` implies `use`; nothing at all allows neither.
    let reader = caller(h.agent(&["read"]).await).await;
    secrets::open(state, &reader, Purpose::Use, "default", "db/password", None).await.unwrap();
    let nobody = caller(h.agent(&[]).await).await;
    let refused = secrets::open(state, &nobody, Purpose::Use, "default", "db/password", None).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A user's key limited to `secrets:use` uses, and does not reveal.
    let scoped =
        h.admin(Method::POST, "/v1/auth/api-keys", Some(json!({"name": "use only", "scopes": ["secrets:use"]}))).await;
    let user = caller(scoped["api_key"].as_str().unwrap().to_owned()).await;
    let refused = secrets::read(state, &user, "default", "db/password", None).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    secrets::open(state, &user, Purpose::Use, "default", "db/password", None).await.unwrap();

    // Each use is in the trail under its own action, without the value.
    let events = h.admin(Method::GET, "/v1/audit/events?action=secret.use&limit=1000", None).await;
    let uses: Vec<&Value> = events["events"].as_array().unwrap().iter().collect();
    assert_eq!(uses.iter().filter(|e| e["outcome"] == "success").count(), 3, "{events}");
    assert_eq!(uses.iter().filter(|e| e["outcome"] == "denied").count(), 1, "{events}");
    assert!(!events.to_string().contains(CANARY));
}

#[tokio::test]
async fn committed_changes_are_published_in_process() {
    let h = Harness::start().await;
    let mut feed = h.server.state().changes.subscribe();
    h.admin(Method::PUT, "/v1/vaults/default/secrets/db/password", Some(json!({"value": CANARY}))).await;
    let key = h.agent(&["read"]).await;
    match feed.recv().await.unwrap() {
        clawvault_store::Change::Secret { path, .. } => assert_eq!(path, "db/password"),
        other => panic!("expected the secret's change first, got {other:?}"),
    }
    assert!(matches!(feed.recv().await.unwrap(), clawvault_store::Change::Policies(_)), "the agent's policy");
    let caller = authenticate::caller(h.server.state(), &key, None, "test").await.unwrap();
    h.admin(Method::DELETE, &format!("/v1/agents/{}", caller.principal.id()), None).await;
    assert!(matches!(feed.recv().await.unwrap(), clawvault_store::Change::Agent(id) if id == caller.principal.id()));
    // The deleted agent's cached credential is refused at once.
    assert!(authenticate::caller(h.server.state(), &key, None, "test").await.is_err());
}

#[tokio::test]
async fn the_native_api_answers_problems_for_what_axum_rejects_and_methods_it_lacks() {
    let h = Harness::start().await;
    // A query string that does not parse: axum's plain-text rejection becomes a problem.
    let (status, content_type, body) = h.call(Method::GET, "/v1/audit/events?limit=many", Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type, "application/problem+json", "{body}");
    let (status, content_type, _) = h.call(Method::PATCH, "/v1/vaults", Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type, "application/problem+json");
    let (status, content_type, _) = h.call(Method::GET, "/v1/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
}

#[tokio::test]
async fn no_answer_may_be_cached() {
    let h = Harness::start().await;
    h.admin(Method::PUT, "/v1/vaults/default/secrets/db/password", Some(json!({"value": CANARY}))).await;
    for (uri, bearer) in [("/v1/vaults/default/secrets/db/password", Some(h.admin.as_str())), ("/v1/vaults", None)] {
        let mut req = Request::builder().uri(uri);
        if let Some(b) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
        }
        let resp =
            clawvault_server::app(h.server.state().clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.headers().get(header::CACHE_CONTROL).unwrap(), "no-store", "{uri}: {}", resp.status());
    }
}
