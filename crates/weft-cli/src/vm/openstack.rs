//! Reaching Neutron as OpenStack's clients do: the openrc's `OS_*`
//! settings, a Keystone v3 password token and the catalog's `network`
//! endpoint, or `OS_AUTH_TYPE=none` with an explicit endpoint (Neutron's
//! noauth).

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::args::VmCommon;

/// How `weft vm` authenticates, from the command line and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settings {
    /// No token: the endpoint is given (noauth Neutron). The project id,
    /// when set, goes in `X-Project-Id` as Neutron's noauth reads it.
    NoAuth {
        endpoint: String,
        project_id: Option<String>,
    },
    /// A Keystone v3 password token scoped to a project.
    Password(Password),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Password {
    /// Keystone's v3 endpoint, ending in `/v3`.
    pub(crate) auth_url: String,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) user_domain: Domain,
    pub(crate) project: Project,
    pub(crate) region: Option<String>,
    pub(crate) interface: String,
    /// Skip the catalog: this is Neutron.
    pub(crate) endpoint: Option<String>,
}

/// A domain by name or id (keystoneauth's `*_DOMAIN_NAME` / `*_DOMAIN_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Domain {
    Name(String),
    Id(String),
}

impl Domain {
    fn json(&self) -> Value {
        match self {
            Domain::Name(name) => json!({ "name": name }),
            Domain::Id(id) => json!({ "id": id }),
        }
    }
}

/// The project a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Project {
    Id(String),
    Name { name: String, domain: Domain },
}

fn domain(name: &Option<String>, id: &Option<String>) -> Domain {
    match (name, id) {
        (_, Some(id)) => Domain::Id(id.clone()),
        (Some(name), None) => Domain::Name(name.clone()),
        (None, None) => Domain::Name("Default".into()),
    }
}

fn nonempty(value: &Option<String>) -> Option<String> {
    value.as_ref().filter(|v| !v.trim().is_empty()).cloned()
}

impl Settings {
    /// Reads the settings as the openstack CLI would, naming what is
    /// missing.
    pub(crate) fn from_args(args: &VmCommon) -> anyhow::Result<Settings> {
        let endpoint = nonempty(&args.os_endpoint).or_else(|| nonempty(&args.os_endpoint_fallback));
        let auth_type = nonempty(&args.os_auth_type).unwrap_or_else(|| "password".into());
        match auth_type.as_str() {
            "none" | "noauth" => {
                let Some(endpoint) = endpoint else {
                    bail!(
                        "OS_AUTH_TYPE={auth_type} needs the Neutron endpoint: --os-endpoint, \
                         OS_NETWORK_ENDPOINT_OVERRIDE or OS_ENDPOINT"
                    );
                };
                Ok(Settings::NoAuth {
                    endpoint,
                    project_id: nonempty(&args.os_project_id),
                })
            }
            "password" | "v3password" => {
                let missing: Vec<&str> = [
                    ("OS_AUTH_URL", args.os_auth_url.is_none()),
                    ("OS_USERNAME", args.os_username.is_none()),
                    ("OS_PASSWORD", args.os_password.is_none()),
                    (
                        "OS_PROJECT_NAME or OS_PROJECT_ID",
                        args.os_project_name.is_none() && args.os_project_id.is_none(),
                    ),
                ]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect();
                if !missing.is_empty() {
                    bail!(
                        "no OpenStack credentials: {} not set (source an openrc, or use \
                         OS_AUTH_TYPE=none with --os-endpoint for a noauth Neutron)",
                        missing.join(", ")
                    );
                }
                let project = match (&args.os_project_id, &args.os_project_name) {
                    (Some(id), _) => Project::Id(id.clone()),
                    (None, Some(name)) => Project::Name {
                        name: name.clone(),
                        domain: domain(&args.os_project_domain_name, &args.os_project_domain_id),
                    },
                    (None, None) => bail!("OS_PROJECT_NAME or OS_PROJECT_ID not set"),
                };
                Ok(Settings::Password(Password {
                    auth_url: v3_url(args.os_auth_url.as_deref().unwrap_or_default()),
                    username: args.os_username.clone().unwrap_or_default(),
                    password: args.os_password.clone().unwrap_or_default(),
                    user_domain: domain(&args.os_user_domain_name, &args.os_user_domain_id),
                    project,
                    region: nonempty(&args.os_region_name),
                    interface: args.os_interface.clone(),
                    endpoint,
                }))
            }
            other => bail!("OS_AUTH_TYPE={other} is not supported by weft vm (password or none)"),
        }
    }
}

/// Keystone's v3 endpoint from an OS_AUTH_URL with or without `/v3`.
fn v3_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/v3") {
        url.to_owned()
    } else {
        format!("{url}/v3")
    }
}

/// Neutron's v2.0 base from an endpoint with or without `/v2.0`.
fn v2_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/v2.0") {
        url.to_owned()
    } else {
        format!("{url}/v2.0")
    }
}

/// The request body of a v3 password token scoped to the project.
fn token_request(p: &Password) -> Value {
    let scope = match &p.project {
        Project::Id(id) => json!({ "project": { "id": id } }),
        Project::Name { name, domain } => {
            json!({ "project": { "name": name, "domain": domain.json() } })
        }
    };
    json!({
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": { "user": {
                    "name": p.username,
                    "domain": p.user_domain.json(),
                    "password": p.password,
                } }
            },
            "scope": scope,
        }
    })
}

/// The `network` endpoint of a token's catalog for an interface (and
/// region, when one is asked for).
fn network_endpoint(
    token: &Value,
    interface: &str,
    region: Option<&str>,
) -> anyhow::Result<String> {
    let catalog = token
        .pointer("/token/catalog")
        .and_then(Value::as_array)
        .context("Keystone's token has no catalog")?;
    let service = catalog
        .iter()
        .find(|s| s["type"] == "network")
        .context("Keystone's catalog has no `network` service (is Neutron registered?)")?;
    let endpoints = service["endpoints"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    endpoints
        .iter()
        .filter(|e| e["interface"] == interface)
        .find(|e| region.is_none_or(|r| e["region"] == r || e["region_id"] == r))
        .and_then(|e| e["url"].as_str())
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "Keystone's catalog has no {interface} network endpoint{}",
                region
                    .map(|r| format!(" in region {r}"))
                    .unwrap_or_default()
            )
        })
}

/// A Neutron error's text: the `NeutronError` envelope's type and message.
fn neutron_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("NeutronError"));
    match error {
        Some(e) => {
            let kind = e["type"].as_str().unwrap_or("error");
            let message = e["message"].as_str().unwrap_or_default();
            format!("{kind}: {message}")
        }
        None => body.trim().chars().take(300).collect(),
    }
}

/// A failed Neutron call.
#[derive(Debug, thiserror::Error)]
#[error("Neutron {method} {path}: {status}: {message}")]
pub(crate) struct NeutronCallError {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

/// A Neutron v2.0 client, authenticated.
#[derive(Debug, Clone)]
pub(crate) struct Neutron {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    /// Sent as `X-Project-Id` (noauth).
    project_id: Option<String>,
    /// The project requests act in: names of security groups are looked
    /// up there, as Nova does.
    project: Option<String>,
}

impl Neutron {
    /// Authenticates (Keystone, unless noauth) and finds the endpoint.
    pub(crate) async fn connect(settings: &Settings) -> anyhow::Result<Neutron> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("make an HTTP client")?;
        match settings {
            Settings::NoAuth {
                endpoint,
                project_id,
            } => Ok(Neutron {
                http,
                base: v2_url(endpoint),
                token: None,
                project_id: project_id.clone(),
                project: Some(
                    project_id
                        .clone()
                        .unwrap_or_else(|| weft_neutron::NOAUTH_PROJECT.to_owned()),
                ),
            }),
            Settings::Password(p) => {
                let url = format!("{}/auth/tokens", p.auth_url);
                let response = http
                    .post(&url)
                    .json(&token_request(p))
                    .send()
                    .await
                    .with_context(|| format!("reach Keystone at {url}"))?;
                let status = response.status();
                let token = response
                    .headers()
                    .get("x-subject-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let text = response.text().await.unwrap_or_default();
                if !status.is_success() {
                    let message = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
                        .unwrap_or(text);
                    bail!(
                        "Keystone at {} refused user {:?}: {status}: {message}",
                        p.auth_url,
                        p.username
                    );
                }
                let token = token.context("Keystone answered without X-Subject-Token")?;
                let body: Value =
                    serde_json::from_str(&text).context("Keystone's token is not JSON")?;
                let endpoint = match &p.endpoint {
                    Some(endpoint) => endpoint.clone(),
                    None => network_endpoint(&body, &p.interface, p.region.as_deref())?,
                };
                Ok(Neutron {
                    http,
                    base: v2_url(&endpoint),
                    token: Some(token),
                    project_id: None,
                    project: body
                        .pointer("/token/project/id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            }
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("X-Auth-Token", token);
        }
        if let Some(project) = &self.project_id {
            request = request.header("X-Project-Id", project);
        }
        request
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<Result<Value, NeutronCallError>> {
        let response = request
            .send()
            .await
            .with_context(|| format!("reach Neutron at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Ok(Err(NeutronCallError {
                method,
                path: path.to_owned(),
                status,
                message: neutron_message(&text),
            }));
        }
        if text.is_empty() {
            return Ok(Ok(Value::Null));
        }
        let value = serde_json::from_str(&text)
            .with_context(|| format!("Neutron {method} {path}: answer is not JSON"))?;
        Ok(Ok(value))
    }

    /// GET; a Neutron refusal is the inner error (404 is often expected).
    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<Result<Value, NeutronCallError>> {
        let request = self.request(reqwest::Method::GET, path).query(query);
        self.call("GET", path, request).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let request = self.request(reqwest::Method::POST, path).json(body);
        Ok(self.call("POST", path, request).await??)
    }

    pub(crate) async fn delete(
        &self,
        path: &str,
    ) -> anyhow::Result<Result<Value, NeutronCallError>> {
        let request = self.request(reqwest::Method::DELETE, path);
        self.call("DELETE", path, request).await
    }

    /// One object of a collection by id, or every object with that name
    /// (in `project`, when given).
    async fn lookup(
        &self,
        collection: &str,
        key: &str,
        name_or_id: &str,
        project: Option<&str>,
    ) -> anyhow::Result<Vec<Value>> {
        if uuid::Uuid::parse_str(name_or_id).is_ok() {
            match self
                .get(&format!("/{collection}/{name_or_id}"), &[])
                .await?
            {
                Ok(v) => return Ok(vec![v[key].clone()]),
                Err(e) if e.status == StatusCode::NOT_FOUND => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut query = vec![("name", name_or_id)];
        if let Some(project) = project {
            query.push(("project_id", project));
        }
        let found = self.get(&format!("/{collection}"), &query).await??;
        // The URL's `security-groups` are the body's `security_groups`.
        let plural = collection.replace('-', "_");
        Ok(found[plural.as_str()]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// A network by id or (unambiguous) name.
    pub(crate) async fn network(&self, name_or_id: &str) -> anyhow::Result<Value> {
        one(
            "network",
            name_or_id,
            self.lookup("networks", "network", name_or_id, None).await?,
        )
    }

    /// A security group's id, by id or name in the caller's project.
    pub(crate) async fn security_group_id(&self, name_or_id: &str) -> anyhow::Result<String> {
        let sg = one(
            "security group",
            name_or_id,
            self.lookup(
                "security-groups",
                "security_group",
                name_or_id,
                self.project.as_deref(),
            )
            .await?,
        )?;
        Ok(sg["id"].as_str().unwrap_or_default().to_owned())
    }
}

/// The single match of a lookup, or an error saying why not.
fn one(kind: &str, name_or_id: &str, found: Vec<Value>) -> anyhow::Result<Value> {
    match found.len() {
        0 => bail!("no {kind} {name_or_id:?}: Neutron has none of that name or id visible here"),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        n => {
            let ids: Vec<&str> = found.iter().filter_map(|v| v["id"].as_str()).collect();
            bail!(
                "{n} {kind}s are named {name_or_id:?} ({}): give the id",
                ids.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command, VmCmd};

    /// The common settings of `weft vm list ARGS`; the environment is not
    /// read for flags given here, and the tests give every flag they use.
    fn common(args: &[&str]) -> VmCommon {
        let mut all = vec!["weft", "vm", "list"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).map(|c| c.command) {
            Ok(Command::Vm(vm)) => match *vm {
                VmCmd::List(list) => list.common,
                other => panic!("not a vm list: {other:?}"),
            },
            other => panic!("not a vm list: {other:?}"),
        }
    }

    fn clean(mut c: VmCommon) -> VmCommon {
        // Whatever the test runner's environment holds is not the test's.
        for field in [
            &mut c.os_auth_type,
            &mut c.os_auth_url,
            &mut c.os_username,
            &mut c.os_password,
            &mut c.os_project_name,
            &mut c.os_project_id,
            &mut c.os_user_domain_name,
            &mut c.os_user_domain_id,
            &mut c.os_project_domain_name,
            &mut c.os_project_domain_id,
            &mut c.os_region_name,
            &mut c.os_endpoint,
            &mut c.os_endpoint_fallback,
        ] {
            *field = None;
        }
        c.os_interface = "public".into();
        c
    }

    #[test]
    fn an_openrc_gives_a_password_token_scoped_to_the_project() {
        let mut c = clean(common(&[]));
        c.os_auth_url = Some("http://127.0.0.1:5000/v3/".into());
        c.os_username = Some("demo".into());
        c.os_password = Some("secret".into());
        c.os_project_name = Some("k8s-contrail".into());
        c.os_user_domain_name = Some("Default".into());
        c.os_project_domain_id = Some("default".into());
        let Settings::Password(p) = Settings::from_args(&c).unwrap() else {
            panic!("not password auth");
        };
        assert_eq!(p.auth_url, "http://127.0.0.1:5000/v3");
        assert_eq!(p.interface, "public");
        let body = token_request(&p);
        assert_eq!(body["auth"]["identity"]["methods"], json!(["password"]));
        assert_eq!(
            body["auth"]["identity"]["password"]["user"],
            json!({"name": "demo", "domain": {"name": "Default"}, "password": "secret"})
        );
        assert_eq!(
            body["auth"]["scope"],
            json!({"project": {"name": "k8s-contrail", "domain": {"id": "default"}}})
        );
    }

    #[test]
    fn missing_credentials_are_named() {
        let mut c = clean(common(&[]));
        c.os_auth_url = Some("http://127.0.0.1:5000".into());
        let e = Settings::from_args(&c).unwrap_err().to_string();
        assert!(
            e.contains("OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME or OS_PROJECT_ID not set"),
            "{e}"
        );
        assert!(!e.contains("OS_AUTH_URL"), "{e}");
    }

    #[test]
    fn noauth_needs_an_endpoint_and_takes_either_variable() {
        let mut c = clean(common(&[]));
        c.os_auth_type = Some("none".into());
        let e = Settings::from_args(&c).unwrap_err().to_string();
        assert!(e.contains("--os-endpoint"), "{e}");
        c.os_endpoint_fallback = Some("http://10.0.0.1:9696".into());
        assert_eq!(
            Settings::from_args(&c).unwrap(),
            Settings::NoAuth {
                endpoint: "http://10.0.0.1:9696".into(),
                project_id: None
            }
        );
        c.os_endpoint = Some("http://127.0.0.1:9696/v2.0".into());
        let Settings::NoAuth { endpoint, .. } = Settings::from_args(&c).unwrap() else {
            panic!("not noauth");
        };
        assert_eq!(v2_url(&endpoint), "http://127.0.0.1:9696/v2.0");
        assert_eq!(v2_url("http://h:9696/"), "http://h:9696/v2.0");
        c.os_auth_type = Some("token".into());
        let e = Settings::from_args(&c).unwrap_err().to_string();
        assert!(e.contains("OS_AUTH_TYPE=token is not supported"), "{e}");
    }

    #[test]
    fn the_network_endpoint_comes_from_the_catalog() {
        let token = json!({"token": {"catalog": [
            {"type": "identity", "endpoints": [
                {"interface": "public", "region": "RegionOne", "url": "http://ks"}]},
            {"type": "network", "endpoints": [
                {"interface": "internal", "region": "RegionOne", "url": "http://int:9696"},
                {"interface": "public", "region": "RegionTwo", "url": "http://two:9696"},
                {"interface": "public", "region": "RegionOne", "url": "http://one:9696"}]}
        ]}});
        assert_eq!(
            network_endpoint(&token, "public", None).unwrap(),
            "http://two:9696"
        );
        assert_eq!(
            network_endpoint(&token, "public", Some("RegionOne")).unwrap(),
            "http://one:9696"
        );
        assert_eq!(
            network_endpoint(&token, "internal", None).unwrap(),
            "http://int:9696"
        );
        let e = network_endpoint(&token, "admin", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no admin network endpoint"), "{e}");
        let none = json!({"token": {"catalog": []}});
        let e = network_endpoint(&none, "public", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `network` service"), "{e}");
    }

    #[test]
    fn neutron_errors_read_from_their_envelope() {
        let body = r#"{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}"#;
        assert_eq!(
            neutron_message(body),
            "NetworkNotFound: Network x could not be found."
        );
        assert_eq!(neutron_message("plain failure\n"), "plain failure");
    }

    #[test]
    fn lookups_want_exactly_one_match() {
        let e = one("network", "x", vec![]).unwrap_err().to_string();
        assert!(e.contains("no network \"x\""), "{e}");
        let two = vec![json!({"id": "a"}), json!({"id": "b"})];
        let e = one("network", "x", two).unwrap_err().to_string();
        assert!(e.contains("2 networks are named \"x\" (a, b)"), "{e}");
        assert_eq!(
            one("network", "x", vec![json!({"id": "a"})]).unwrap()["id"],
            "a"
        );
    }
}
