//! The load: a burst of port creations by concurrent tasks, each request timed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::task::JoinSet;
use weft_api::Ports;
use weft_api::client::Client;
use weft_model::{CreatePort, Ref};

/// What a burst measured.
#[derive(Clone, Debug)]
pub struct Burst {
    /// From the first request sent to the last answer received.
    pub wall: Duration,
    /// One per port, in no particular order.
    pub latencies: Vec<Duration>,
    /// The address each port was given, in the same order.
    pub addresses: Vec<IpAddr>,
    /// The size of the first port as the server returned it, re-encoded.
    pub port_json_bytes: usize,
}

impl Burst {
    pub fn ports_per_sec(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

/// Creates `ports` ports on `network`, split as evenly as possible over
/// `concurrency` tasks that each send their next request as soon as the
/// previous one is answered.
pub async fn create_ports(
    client: &Client,
    network: &Ref,
    ports: usize,
    concurrency: usize,
) -> anyhow::Result<Burst> {
    if concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for task in 0..concurrency {
        let share = ports / concurrency + usize::from(task < ports % concurrency);
        let client = client.clone();
        let request = CreatePort::on(network.clone());
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(share);
            let mut first_size = 0;
            for i in 0..share {
                let sent = Instant::now();
                let port = client
                    .create::<Ports>(&request)
                    .await
                    .with_context(|| format!("task {task}: port {i} of {share}"))?;
                let latency = sent.elapsed();
                if i == 0 {
                    first_size = serde_json::to_vec(&port).map_or(0, |v| v.len());
                }
                let address = port
                    .fixed_ips
                    .first()
                    .with_context(|| format!("port {} was given no address", port.meta.id))?
                    .ip_address;
                out.push((latency, address));
            }
            anyhow::Ok((out, first_size))
        });
    }
    let mut latencies = Vec::with_capacity(ports);
    let mut addresses = Vec::with_capacity(ports);
    let mut port_json_bytes = 0;
    while let Some(joined) = tasks.join_next().await {
        let (out, first_size) = joined.context("a load task panicked")??;
        port_json_bytes = port_json_bytes.max(first_size);
        for (latency, address) in out {
            latencies.push(latency);
            addresses.push(address);
        }
    }
    let wall = start.elapsed();
    Ok(Burst {
        wall,
        latencies,
        addresses,
        port_json_bytes,
    })
}

/// Fails unless every address is distinct and `in_subnet` holds for each.
pub fn check_addresses(
    addresses: &[IpAddr],
    in_subnet: impl Fn(IpAddr) -> bool,
) -> anyhow::Result<()> {
    let mut seen: HashMap<IpAddr, usize> = HashMap::with_capacity(addresses.len());
    for (i, &address) in addresses.iter().enumerate() {
        if !in_subnet(address) {
            bail!("port #{i} was given {address}, outside the network's subnet");
        }
        if let Some(first) = seen.insert(address, i) {
            bail!("DUPLICATE ADDRESS: {address} was given to port #{first} and port #{i}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_strays_are_refused() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let inside = |a: IpAddr| a.to_string().starts_with("10.0.");
        assert!(check_addresses(&[ip("10.0.0.3"), ip("10.0.0.4")], inside).is_ok());
        let dup = check_addresses(&[ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.3")], inside);
        assert!(dup.unwrap_err().to_string().contains("10.0.0.3"));
        assert!(check_addresses(&[ip("10.1.0.3")], inside).is_err());
    }
}
