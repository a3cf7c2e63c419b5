//! The proxy's routes and what was spent on them.

use reqwest::Method;
use serde::Deserialize;
use uuid::Uuid;

use crate::{Client, ClientError, encode_segment};

/// A route of the credential-injecting proxy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProxyRoute {
    /// Name.
    pub name: String,
    /// Where clients point their base URL, relative to the server (`/proxy/openai`).
    pub base_path: String,
    /// The vault of its secrets (`None`: deleted).
    pub vault: Option<String>,
    /// That vault's id.
    pub vault_id: Uuid,
    /// The definition: `upstream`, `inject`, `methods`, `path_prefixes`, `timeouts`, `limits`,
    /// `budget`, `preset`.
    pub route: serde_json::Value,
    /// Who made it.
    pub created_by: Uuid,
    /// Made (RFC 3339).
    pub created_at: String,
    /// Last replaced (RFC 3339).
    pub updated_at: String,
    /// Why the server cannot use it, when it cannot.
    pub problem: Option<String>,
}

/// What one identity spent on one route on one day.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProxyUsage {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Route.
    pub route: String,
    /// Agent or user id.
    pub principal_id: Uuid,
    /// Its name.
    pub principal: String,
    /// Calls.
    pub requests: i64,
    /// Answer bytes.
    pub response_bytes: i64,
}

#[derive(Deserialize)]
struct RouteList {
    routes: Vec<ProxyRoute>,
}

#[derive(Deserialize)]
struct UsageList {
    usage: Vec<ProxyUsage>,
}

impl Client {
    /// Every route.
    ///
    /// # Errors
    /// API errors.
    pub async fn proxy_routes(&self) -> Result<Vec<ProxyRoute>, ClientError> {
        let list: RouteList = self.call(Method::GET, "/v1/proxy/routes", None).await?;
        Ok(list.routes)
    }

    /// One route.
    ///
    /// # Errors
    /// API errors.
    pub async fn proxy_route(&self, name: &str) -> Result<ProxyRoute, ClientError> {
        self.call(Method::GET, &format!("/v1/proxy/routes/{}", encode_segment(name)), None).await
    }

    /// Makes a route (`body` as `POST /v1/proxy/routes` takes it, with its `name`), or replaces
    /// the route `name` when `replace`.
    ///
    /// # Errors
    /// API errors.
    pub async fn put_proxy_route(
        &self,
        name: &str,
        body: &serde_json::Value,
        replace: bool,
    ) -> Result<ProxyRoute, ClientError> {
        if replace {
            self.call(Method::PUT, &format!("/v1/proxy/routes/{}", encode_segment(name)), Some(body)).await
        } else {
            self.call(Method::POST, "/v1/proxy/routes", Some(body)).await
        }
    }

    /// Deletes a route.
    ///
    /// # Errors
    /// API errors.
    pub async fn delete_proxy_route(&self, name: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/proxy/routes/{}", encode_segment(name)), None).await
    }

    /// Usage of the last `days` days (0: today), of one route and identity when given.
    ///
    /// # Errors
    /// API errors.
    pub async fn proxy_usage(
        &self,
        days: i64,
        route: Option<&str>,
        principal_id: Option<Uuid>,
    ) -> Result<Vec<ProxyUsage>, ClientError> {
        let mut url = format!("/v1/proxy/usage?days={days}");
        if let Some(r) = route {
            url.push_str(&format!("&route={}", encode_segment(r)));
        }
        if let Some(p) = principal_id {
            url.push_str(&format!("&principal_id={p}"));
        }
        let list: UsageList = self.call(Method::GET, &url, None).await?;
        Ok(list.usage)
    }
}
