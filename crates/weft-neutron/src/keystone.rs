//! Keystone token validation, as keystonemiddleware's `auth_token` does it.
//!
//! The service authenticates as its own user (password, project-scoped) and
//! keeps that service token fresh. A client's token is validated with
//! `GET /v3/auth/tokens?nocatalog` carrying `X-Auth-Token: <service token>`
//! and `X-Subject-Token: <client token>`; the answer (project, roles, expiry)
//! is cached until the token expires. Keystone's 404 for an unknown token
//! becomes the client's 401; a 401 for the service token refreshes it once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

/// What a validated token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub user_id: String,
    pub project_id: String,
    pub project_name: String,
    /// Role names, implied roles included (admin implies member and reader).
    pub roles: Vec<String>,
    pub expires_at: Timestamp,
}

/// Why a token could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Keystone does not know the token, or it expired: the client gets 401.
    #[error("the token is not valid")]
    Invalid,
    /// The token is valid but not scoped to a project.
    #[error("the token is not scoped to a project")]
    Unscoped,
    /// Keystone could not be asked.
    #[error("Keystone is unavailable: {0}")]
    Unavailable(String),
}

/// A validated token, boxed so the trait stays object-safe.
pub type Validation<'a> = Pin<Box<dyn Future<Output = Result<TokenInfo, TokenError>> + Send + 'a>>;

/// A project's name, if it could be found.
pub type NameLookup<'a> = Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;

/// Something that turns a client's token into its identity.
pub trait TokenValidator: Send + Sync + 'static {
    fn validate<'a>(&'a self, token: &'a str) -> Validation<'a>;

    /// The name of the project with this id, for projects known only by
    /// id (an admin names them in a request). By default: unknown.
    fn project_name<'a>(&'a self, project_id: &'a str) -> NameLookup<'a> {
        let _ = project_id;
        Box::pin(async { None })
    }
}

/// How to reach Keystone and who the service is.
#[derive(Debug, Clone)]
pub struct KeystoneConfig {
    /// The identity endpoint without `/v3`, e.g. `http://127.0.0.1:5000`.
    pub url: String,
    pub user: String,
    pub password: String,
    pub project: String,
    pub user_domain: String,
    pub project_domain: String,
}

/// Refresh the service token this long before it expires.
const REFRESH_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);
/// Forget cached tokens after this long even if they are still valid, so a
/// revoked token stops working (keystonemiddleware's `token_cache_time`).
const CACHE_TIME: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);
/// Prune the cache of expired entries when it grows past this.
const CACHE_PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone)]
struct ServiceToken {
    token: String,
    expires_at: Timestamp,
}

/// Validates tokens against a real Keystone, with a cache.
#[derive(Debug)]
pub struct Keystone {
    config: KeystoneConfig,
    http: reqwest::Client,
    service: tokio::sync::Mutex<Option<ServiceToken>>,
    cache: Mutex<HashMap<String, (TokenInfo, Timestamp)>>,
    /// Project names by id, as Keystone answered (names rarely change, and
    /// weft reads one only when it first meets a project).
    names: Mutex<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenFields,
}

#[derive(Deserialize)]
struct TokenFields {
    expires_at: String,
    user: Named,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: String,
}

impl Keystone {
    pub fn new(config: KeystoneConfig) -> Result<Keystone, TokenError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        Ok(Keystone {
            config,
            http,
            service: tokio::sync::Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
        })
    }

    fn tokens_url(&self) -> String {
        format!("{}/v3/auth/tokens", self.config.url.trim_end_matches('/'))
    }

    /// Authenticates the service user; keeps the token until shortly before
    /// it expires. `stale` forces a new one (Keystone refused the old one).
    pub async fn service_token(&self, stale: Option<&str>) -> Result<String, TokenError> {
        let mut slot = self.service.lock().await;
        if let Some(current) = slot.as_ref() {
            let fresh = Timestamp::now() + REFRESH_MARGIN < current.expires_at;
            if fresh && stale != Some(current.token.as_str()) {
                return Ok(current.token.clone());
            }
        }
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.config.user,
                "domain": {"name": self.config.user_domain},
                "password": self.config.password,
            }}},
            "scope": {"project": {
                "name": self.config.project,
                "domain": {"name": self.config.project_domain},
            }},
        }});
        let response = self
            .http
            .post(format!("{}?nocatalog", self.tokens_url()))
            .json(&body)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(format!("cannot reach Keystone: {e}")))?;
        if !response.status().is_success() {
            return Err(TokenError::Unavailable(format!(
                "Keystone refused the service user '{}': {}",
                self.config.user,
                response.status()
            )));
        }
        let token = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| TokenError::Unavailable("Keystone sent no X-Subject-Token".into()))?;
        let info: TokenBody = response
            .json()
            .await
            .map_err(|e| TokenError::Unavailable(format!("unreadable token body: {e}")))?;
        let expires_at = parse_time(&info.token.expires_at)?;
        *slot = Some(ServiceToken {
            token: token.clone(),
            expires_at,
        });
        Ok(token)
    }

    async fn validate_uncached(&self, token: &str) -> Result<TokenInfo, TokenError> {
        let mut service = self.service_token(None).await?;
        for attempt in 0..2 {
            let response = self
                .http
                .get(format!("{}?nocatalog", self.tokens_url()))
                .header("X-Auth-Token", &service)
                .header("X-Subject-Token", token)
                .send()
                .await
                .map_err(|e| TokenError::Unavailable(format!("cannot reach Keystone: {e}")))?;
            match response.status().as_u16() {
                200 => {
                    let body: TokenBody = response.json().await.map_err(|e| {
                        TokenError::Unavailable(format!("unreadable token body: {e}"))
                    })?;
                    return token_info(body);
                }
                401 if attempt == 0 => service = self.service_token(Some(&service)).await?,
                404 | 401 => return Err(TokenError::Invalid),
                status => {
                    return Err(TokenError::Unavailable(format!(
                        "Keystone answered {status} to a token validation"
                    )));
                }
            }
        }
        Err(TokenError::Invalid)
    }
}

#[derive(Deserialize)]
struct ProjectBody {
    project: Named,
}

impl Keystone {
    /// `GET /v3/projects/{id}` with the service token (the service user
    /// needs a role that may read projects, as Neutron's does).
    async fn lookup_project_name(&self, project_id: &str) -> Result<String, String> {
        if project_id.is_empty()
            || !project_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!("'{project_id}' is not a Keystone project id"));
        }
        let url = format!(
            "{}/v3/projects/{project_id}",
            self.config.url.trim_end_matches('/')
        );
        let mut service = self.service_token(None).await.map_err(|e| e.to_string())?;
        for attempt in 0..2 {
            let response = self
                .http
                .get(&url)
                .header("X-Auth-Token", &service)
                .send()
                .await
                .map_err(|e| format!("cannot reach Keystone: {e}"))?;
            match response.status().as_u16() {
                200 => {
                    let body: ProjectBody = response
                        .json()
                        .await
                        .map_err(|e| format!("unreadable project body: {e}"))?;
                    return Ok(body.project.name);
                }
                401 if attempt == 0 => {
                    service = self
                        .service_token(Some(&service))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                status => return Err(format!("Keystone answered {status}")),
            }
        }
        Err("Keystone refused the service token".into())
    }
}

fn parse_time(text: &str) -> Result<Timestamp, TokenError> {
    text.parse()
        .map_err(|e| TokenError::Unavailable(format!("bad expiry time '{text}': {e}")))
}

fn token_info(body: TokenBody) -> Result<TokenInfo, TokenError> {
    let token = body.token;
    let project = token.project.ok_or(TokenError::Unscoped)?;
    Ok(TokenInfo {
        user_id: token.user.id,
        project_id: project.id,
        project_name: project.name,
        roles: token.roles.into_iter().map(|r| r.name).collect(),
        expires_at: parse_time(&token.expires_at)?,
    })
}

impl TokenValidator for Keystone {
    fn validate<'a>(&'a self, token: &'a str) -> Validation<'a> {
        Box::pin(async move {
            let now = Timestamp::now();
            if let Some(info) = cached(&self.cache, token, now) {
                return Ok(info);
            }
            let info = self.validate_uncached(token).await?;
            if info.expires_at <= now {
                return Err(TokenError::Invalid);
            }
            remember(&self.cache, token, &info, now);
            Ok(info)
        })
    }

    fn project_name<'a>(&'a self, project_id: &'a str) -> NameLookup<'a> {
        Box::pin(async move {
            let known = |names: &Mutex<HashMap<String, String>>| {
                names
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(project_id)
                    .cloned()
            };
            if let Some(name) = known(&self.names) {
                return Some(name);
            }
            match self.lookup_project_name(project_id).await {
                Ok(name) => {
                    self.names
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(project_id.to_owned(), name.clone());
                    Some(name)
                }
                Err(error) => {
                    tracing::warn!(project = project_id, %error, "cannot read a project's name from Keystone; it is named by its id");
                    None
                }
            }
        })
    }
}

type Cache = Mutex<HashMap<String, (TokenInfo, Timestamp)>>;

fn cached(cache: &Cache, token: &str, now: Timestamp) -> Option<TokenInfo> {
    let cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    let (info, until) = cache.get(token)?;
    (now < *until).then(|| info.clone())
}

fn remember(cache: &Cache, token: &str, info: &TokenInfo, now: Timestamp) {
    let until = info.expires_at.min(now + CACHE_TIME);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CACHE_PRUNE_AT {
        cache.retain(|_, (_, until)| *until > now);
    }
    cache.insert(token.to_owned(), (info.clone(), until));
}

/// A Keystone stand-in with a fixed set of users, each a token with a role
/// in one project: for tests, fuzzing, and trying the API without a
/// Keystone. Tokens never expire within the hour.
#[derive(Debug, Clone, Default)]
pub struct FixedTokens {
    /// token → (project id, role)
    users: HashMap<String, (String, String)>,
    /// project id → name
    projects: HashMap<String, String>,
}

impl FixedTokens {
    pub fn new() -> Self {
        Self::default()
    }

    /// The user whose token is `token`: `role` in project `project_id`,
    /// named `project_name`.
    pub fn user(mut self, token: &str, project_id: &str, project_name: &str, role: &str) -> Self {
        self.users
            .insert(token.to_owned(), (project_id.to_owned(), role.to_owned()));
        self.project(project_id, project_name)
    }

    /// A project known by name, with or without users.
    pub fn project(mut self, project_id: &str, project_name: &str) -> Self {
        self.projects
            .insert(project_id.to_owned(), project_name.to_owned());
        self
    }
}

impl TokenValidator for FixedTokens {
    fn validate<'a>(&'a self, token: &'a str) -> Validation<'a> {
        let found = self.users.get(token).map(|(project, role)| TokenInfo {
            user_id: token.to_owned(),
            project_id: project.clone(),
            project_name: self.projects.get(project).cloned().unwrap_or_default(),
            roles: vec![role.clone(), "reader".to_owned()],
            expires_at: Timestamp::now() + jiff::SignedDuration::from_secs(3600),
        });
        Box::pin(async move { found.ok_or(TokenError::Invalid) })
    }

    fn project_name<'a>(&'a self, project_id: &'a str) -> NameLookup<'a> {
        let name = self.projects.get(project_id).cloned();
        Box::pin(async move { name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystone_token_body_gives_project_and_roles() {
        let body: TokenBody = serde_json::from_value(json!({"token": {
            "methods": ["password"],
            "user": {"domain": {"id": "default", "name": "Default"}, "id": "u1", "name": "demo"},
            "expires_at": "2026-11-29T00:02:37.000000Z",
            "project": {"domain": {"id": "default"}, "id": "8e0b8ceca2704104a66667f5316a6dfa", "name": "demo"},
            "roles": [{"id": "r1", "name": "reader"}, {"id": "r2", "name": "member"}]
        }}))
        .unwrap_or_else(|e| panic!("{e}"));
        let info = token_info(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.project_id, "8e0b8ceca2704104a66667f5316a6dfa");
        assert_eq!(info.project_name, "demo");
        assert_eq!(info.roles, ["reader", "member"]);
        assert_eq!(info.expires_at.to_string(), "2026-11-29T00:02:37Z");
    }

    #[test]
    fn system_scoped_token_is_refused() {
        let body: TokenBody = serde_json::from_value(json!({"token": {
            "user": {"id": "u1"}, "expires_at": "2026-11-29T00:02:37Z", "system": {"all": true}, "roles": []
        }}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(token_info(body), Err(TokenError::Unscoped));
    }

    #[test]
    fn cache_keeps_tokens_until_expiry_or_cache_time() {
        let cache = Cache::default();
        let now: Timestamp = "2026-01-01T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let info = TokenInfo {
            user_id: "u".into(),
            project_id: "p".into(),
            project_name: "p".into(),
            roles: vec!["member".into()],
            expires_at: now + jiff::SignedDuration::from_secs(60),
        };
        remember(&cache, "t", &info, now);
        assert_eq!(cached(&cache, "t", now), Some(info.clone()));
        assert_eq!(
            cached(&cache, "t", now + jiff::SignedDuration::from_secs(61)),
            None
        );
        let long = TokenInfo {
            expires_at: now + jiff::SignedDuration::from_secs(3600),
            ..info
        };
        remember(&cache, "t", &long, now);
        assert!(cached(&cache, "t", now + jiff::SignedDuration::from_secs(299)).is_some());
        assert_eq!(
            cached(&cache, "t", now + jiff::SignedDuration::from_secs(301)),
            None
        );
        assert_eq!(cached(&cache, "other", now), None);
    }
}
