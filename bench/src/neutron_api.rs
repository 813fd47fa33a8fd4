//! `neutron-api`: port creation through the OpenStack Neutron v2.0 API with
//! Keystone tokens, the same client against any number of servers (weft's
//! Neutron API and a real Neutron, see `bench/neutron/run`).
//!
//! For each server and concurrency `c`: a token for a project member from
//! Keystone, a fresh network with one /16 subnet created through the API,
//! then up to `N` port creations (`POST /v2.0/ports`, one port each) by `c`
//! tasks over keep-alive connections, stopping early when a time cap passes
//! (each task finishes the request it has in flight). Throughput is the
//! ports created over the wall clock from the first request sent to the last
//! answer; latency is each create from send to parsed answer (p50, p99 by
//! nearest rank). Every port must carry a distinct address inside the /16.
//! The ports, the subnet and the network are deleted afterwards (deletes
//! are timed too, but not capped).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::stats::{Summary, ms};

/// A Neutron API endpoint and the token to call it with.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

/// Who the load runs as.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Keystone's endpoint, without `/v3`.
    pub keystone: String,
    pub user: String,
    pub password: String,
    pub project: String,
}

/// Only loopback servers: the benchmark must not send traffic elsewhere.
pub fn check_loopback(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    let host = parsed
        .host_str()
        .with_context(|| format!("{url} has no host"))?;
    let ok = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!("{url} is not on loopback; this benchmark only talks to 127.0.0.1/::1");
    }
    Ok(())
}

/// A project-scoped token from Keystone (`POST /v3/auth/tokens`).
pub async fn token(http: &reqwest::Client, c: &Credentials) -> anyhow::Result<String> {
    check_loopback(&c.keystone)?;
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": c.user, "domain": {"id": "default"}, "password": c.password}}},
        "scope": {"project": {"name": c.project, "domain": {"id": "default"}}}}});
    let url = format!("{}/v3/auth/tokens", c.keystone.trim_end_matches('/'));
    let resp = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        bail!("Keystone refused a token for {}: {status} {text}", c.user);
    }
    let token = resp
        .headers()
        .get("x-subject-token")
        .context("Keystone's answer has no X-Subject-Token")?
        .to_str()
        .context("X-Subject-Token is not text")?;
    Ok(token.to_owned())
}

impl Api {
    pub fn new(http: reqwest::Client, url: &str, token: String) -> anyhow::Result<Api> {
        check_loopback(url)?;
        Ok(Api {
            http,
            url: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/v2.0/{path}", self.url);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("X-Auth-Token", &self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        if !status.is_success() {
            bail!(
                "{method} {url}: {status} {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{method} {url}: not JSON"))
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::DELETE, path, None)
            .await
            .map(drop)
    }
}

fn id_of(v: &Value, kind: &str) -> anyhow::Result<String> {
    v[kind]["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the created {kind} has no id: {v}"))
}

/// What to run against one server at one concurrency.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub ports: usize,
    pub concurrency: usize,
    pub time_cap: Duration,
}

/// What one burst measured; also a row of the JSON results.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    pub server: String,
    pub concurrency: usize,
    pub ports_requested: usize,
    pub ports_created: usize,
    /// The time cap stopped the burst before all ports were created.
    pub capped: bool,
    pub wall_seconds: f64,
    pub ports_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub deletes_per_sec: f64,
}

/// Creates a network and a /16 subnet, bursts port creations, checks the
/// addresses, then deletes everything it created.
pub async fn measure(api: &Api, server: &str, load: Load, octet: u8) -> anyhow::Result<Measured> {
    if load.concurrency == 0 || load.ports == 0 {
        bail!("ports and concurrency must be at least 1");
    }
    let network = api
        .post(
            "networks",
            &json!({"network": {"name": format!("bench-{server}-c{}", load.concurrency)}}),
        )
        .await
        .context("creating the network")?;
    let network = id_of(&network, "network")?;
    let cidr = format!("10.{octet}.0.0/16");
    let subnet = api
        .post(
            "subnets",
            &json!({"subnet": {"network_id": network, "ip_version": 4, "cidr": cidr}}),
        )
        .await
        .context("creating the subnet")?;
    let subnet = id_of(&subnet, "subnet")?;
    // Warm every worker and connection before the clock starts (real
    // Neutron loads its plugins lazily on the first request).
    let mut warm = JoinSet::new();
    for _ in 0..load.concurrency {
        let api = api.clone();
        warm.spawn(async move { api.get("networks?limit=1").await });
    }
    while let Some(r) = warm.join_next().await {
        r.context("a warm-up task panicked")??;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + load.time_cap;
    let mut tasks = JoinSet::new();
    for _ in 0..load.concurrency {
        let (api, next, network) = (api.clone(), next.clone(), network.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= load.ports {
                    break;
                }
                let body = json!({"port": {"name": format!("p{i}"), "network_id": network}});
                let sent = Instant::now();
                let port = api
                    .post("ports", &body)
                    .await
                    .with_context(|| format!("port {i}"));
                let latency = sent.elapsed();
                let port = match port {
                    Ok(port) => port,
                    Err(e) => return (out, Err(e)),
                };
                out.push((latency, port));
            }
            (out, Ok(()))
        });
    }
    let mut created = Vec::new();
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let (out, result) = joined.context("a load task panicked")?;
        created.extend(out);
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    let wall = start.elapsed();

    let ids: Vec<String> = created
        .iter()
        .filter_map(|(_, p)| p["port"]["id"].as_str().map(str::to_owned))
        .collect();
    let checked = check(&created, octet, &subnet);
    let deleted = Instant::now();
    let cleanup = delete_ports(api, &ids, load.concurrency).await;
    let delete_wall = deleted.elapsed();
    let cleanup = cleanup.and(
        async {
            api.delete(&format!("subnets/{subnet}")).await?;
            api.delete(&format!("networks/{network}")).await
        }
        .await,
    );
    if let Some(e) = failure {
        return Err(e.context(format!("{server}: a port create failed")));
    }
    checked.with_context(|| format!("{server} at concurrency {}", load.concurrency))?;
    cleanup.with_context(|| format!("{server}: deleting what the benchmark created"))?;

    let latencies: Vec<Duration> = created.iter().map(|(l, _)| *l).collect();
    let s = Summary::of(&latencies).context("no port was created")?;
    Ok(Measured {
        server: server.to_owned(),
        concurrency: load.concurrency,
        ports_requested: load.ports,
        ports_created: latencies.len(),
        capped: latencies.len() < load.ports,
        wall_seconds: wall.as_secs_f64(),
        ports_per_sec: latencies.len() as f64 / wall.as_secs_f64(),
        p50_ms: ms(s.p50),
        p99_ms: ms(s.p99),
        max_ms: ms(s.max),
        mean_ms: ms(s.mean),
        deletes_per_sec: ids.len() as f64 / delete_wall.as_secs_f64(),
    })
}

/// Every port has one address, in 10.`octet`.0.0/16 on `subnet`, and no two
/// share one.
fn check(created: &[(Duration, Value)], octet: u8, subnet: &str) -> anyhow::Result<()> {
    let mut seen = HashSet::with_capacity(created.len());
    for (_, port) in created {
        let port = &port["port"];
        let ip = &port["fixed_ips"][0];
        let addr: Ipv4Addr = ip["ip_address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("port without an IPv4 address: {port}"))?;
        if addr.octets()[..2] != [10, octet] || ip["subnet_id"].as_str() != Some(subnet) {
            bail!("port {} was given {addr} outside its subnet", port["id"]);
        }
        if !seen.insert(addr) {
            bail!("DUPLICATE ADDRESS: {addr} was given to two ports");
        }
    }
    Ok(())
}

async fn delete_ports(api: &Api, ids: &[String], concurrency: usize) -> anyhow::Result<()> {
    let ids: Arc<Vec<String>> = Arc::new(ids.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (api, ids, next) = (api.clone(), ids.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else {
                    return anyhow::Ok(());
                };
                api.delete(&format!("ports/{id}")).await?;
            }
        });
    }
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined.context("a delete task panicked").and_then(|r| r) {
            result = Err(e);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback() {
        assert!(check_loopback("http://127.0.0.1:9696").is_ok());
        assert!(check_loopback("http://[::1]:9696").is_ok());
        assert!(check_loopback("http://10.0.0.1:9696").is_err());
        assert!(check_loopback("http://example.com").is_err());
    }

    #[test]
    fn addresses_are_checked() {
        let port = |ip: &str| {
            (
                Duration::ZERO,
                json!({"port": {"id": "x", "fixed_ips": [{"subnet_id": "s", "ip_address": ip}]}}),
            )
        };
        assert!(check(&[port("10.3.0.2"), port("10.3.1.9")], 3, "s").is_ok());
        let dup = check(&[port("10.3.0.2"), port("10.3.0.2")], 3, "s").unwrap_err();
        assert!(dup.to_string().contains("DUPLICATE"));
        assert!(check(&[port("10.4.0.2")], 3, "s").is_err());
        assert!(check(&[port("10.3.0.2")], 3, "t").is_err());
    }
}
