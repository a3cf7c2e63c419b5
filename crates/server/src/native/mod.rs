//! The native API (`/v1/...`), shaped like 1Claw's so that its SDKs work unchanged.
//! Handlers are thin: they parse, call [`crate::service`], and shape the answer.

mod agents;
mod audit;
mod auth;
mod consumers;
pub mod dto;
mod enroll;
mod events;
pub mod extract;
mod github;
mod meta;
pub(crate) mod openapi;
mod policies;
mod proxy;
mod roles;
mod secrets;
mod shares;
mod users;
mod vaults;

pub(crate) use shares::share_url;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "clawvault native API", description = "Secrets for fleets of AI agents. Shaped like 1Claw's public API."),
    components(schemas(crate::error::ProblemDoc)),
    tags(
        (name = "auth", description = "API keys and access tokens"),
        (name = "agents", description = "Agents: machine identities with their own keys"),
        (name = "users", description = "Users"),
        (name = "vaults", description = "Vaults"),
        (name = "policies", description = "Who may do what on which paths"),
        (name = "shares", description = "Handing one secret to someone, with limits"),
        (name = "secrets", description = "Secrets and their versions"),
        (name = "audit", description = "The audit trail and its hash chain"),
        (name = "events", description = "Server-sent events of changes to secrets"),
        (name = "consumers", description = "The fleet view: which consumer holds which version"),
        (name = "proxy", description = "Routes of the credential-injecting proxy (/proxy/<route>/...) and what each identity spent on them"),
        (name = "meta", description = "Health and discovery"),
    )
)]
struct ApiDoc;

/// The native API's routes together with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(agents::router())
        .merge(enroll::router())
        .merge(users::router())
        .merge(policies::router())
        .merge(shares::router())
        .merge(vaults::router())
        .merge(secrets::router())
        .merge(audit::router())
        .merge(events::router())
        .merge(consumers::router())
        .merge(proxy::router())
        .merge(github::router())
        .merge(roles::router())
        .merge(meta::router())
}
