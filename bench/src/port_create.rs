//! The `port-create` benchmark: runs the references and one fresh server per
//! concurrency, and gathers the results.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use weft_api::client::Client;
use weft_api::{Projects, VirtualNetworks};
use weft_model::{CreateNetwork, CreateProject, CreateSubnet, Ref};

use crate::load;
use crate::reference::{self, Inserts};
use crate::server::ServerProcess;
use crate::stats::{Summary, ms};

const PROJECT: &str = "bench";
pub(crate) const NETWORK: &str = "default-domain:bench:net";
const SUBNET: &str = "10.0.0.0/16";

/// The targets, checked at [`TARGET_CONCURRENCY`].
pub const TARGET_CONCURRENCY: usize = 16;
pub const TARGET_PORTS_PER_SEC: f64 = 2_000.0;
pub const TARGET_P99_MS: f64 = 20.0;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Ports created per concurrency.
    pub ports: usize,
    pub concurrency: Vec<usize>,
    /// The `weft` binary to run as the server.
    pub weft: PathBuf,
    /// Where the temporary directory (server data, reference databases) goes;
    /// the system default when `None`.
    pub work_dir: Option<PathBuf>,
}

/// Everything a run measured; also the JSON written by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub ports: usize,
    pub cpus: usize,
    pub weft: PathBuf,
    pub work_dir: PathBuf,
    /// One row per transaction, the cost of naive durability, measured
    /// before the weft runs and again after them.
    pub naive_reference_start: Reference,
    pub naive_reference_end: Reference,
    /// The mean of the two: what the ratios divide by.
    pub naive_rows_per_sec: f64,
    pub runs: Vec<Run>,
    pub targets: Targets,
    pub total_seconds: f64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Reference {
    pub rows: usize,
    pub rows_per_transaction: usize,
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub value_bytes: usize,
}

impl From<Inserts> for Reference {
    fn from(r: Inserts) -> Self {
        Reference {
            rows: r.rows,
            rows_per_transaction: r.rows_per_transaction,
            seconds: r.elapsed.as_secs_f64(),
            rows_per_sec: r.rows_per_sec(),
            value_bytes: r.value_bytes,
        }
    }
}

/// One concurrency against a fresh server.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub concurrency: usize,
    pub ports: usize,
    pub seconds: f64,
    pub ports_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub rss_mib: f64,
    pub hwm_mib: f64,
    /// One port as the server returned it, in bytes of JSON.
    pub port_json_bytes: usize,
    /// `ports_per_sec` ÷ `naive_rows_per_sec`.
    pub ratio_to_naive: f64,
    /// `concurrency` rows per transaction; absent at concurrency 1, where it
    /// is the naive reference.
    pub batched_reference: Option<Reference>,
    /// `ports_per_sec` ÷ the batched reference's rows/s.
    pub ratio_to_batched: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Targets {
    pub concurrency: usize,
    pub min_ports_per_sec: f64,
    pub max_p99_ms: f64,
    /// `None` when the run did not include the target concurrency.
    pub met: Option<bool>,
}

/// Runs the whole benchmark. Progress goes to stderr.
pub async fn run(config: &Config) -> anyhow::Result<Results> {
    if config.ports == 0 {
        bail!("--ports must be at least 1");
    }
    if config.concurrency.is_empty() || config.concurrency.contains(&0) {
        bail!("--concurrency needs one or more values, each at least 1");
    }
    let mut distinct = config.concurrency.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != config.concurrency.len() {
        bail!("--concurrency lists a value twice");
    }
    if !config.weft.is_file() {
        bail!(
            "no weft binary at {} (build it with `cargo build --release -p weft-cli`, or pass --weft)",
            config.weft.display()
        );
    }
    let started = Instant::now();
    let mut temp = tempfile::Builder::new();
    temp.prefix("weft-bench-");
    let root = match &config.work_dir {
        Some(dir) => temp.tempdir_in(dir),
        None => temp.tempdir(),
    }
    .context("cannot create the temporary directory")?;

    eprintln!("temporary directory: {}", root.path().display());
    let naive = |label: &'static str| {
        eprintln!(
            "reference ({label}): {} SQLite inserts, one per transaction",
            config.ports
        );
        blocking_inserts(
            root.path().join(format!("naive-{label}.db")),
            config.ports,
            1,
        )
    };
    let naive_start = Reference::from(naive("start").await?);

    let mut runs = Vec::with_capacity(config.concurrency.len());
    for &c in &config.concurrency {
        eprintln!("weft: {} ports at concurrency {c}", config.ports);
        let dir = root.path().join(format!("c{c}"));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut run = measure(&config.weft, &dir, config.ports, c).await?;
        if c > 1 {
            eprintln!(
                "reference (batched): {} SQLite inserts, {c} per transaction",
                config.ports
            );
            let path = root.path().join(format!("batched-{c}.db"));
            let batched = Reference::from(blocking_inserts(path, config.ports, c).await?);
            run.ratio_to_batched = Some(run.ports_per_sec / batched.rows_per_sec);
            run.batched_reference = Some(batched);
        }
        runs.push(run);
    }

    // Measured again at the end: the disk of a shared VM drifts, and the
    // two figures show by how much during this run.
    let naive_end = Reference::from(naive("end").await?);
    let naive_rows_per_sec = (naive_start.rows_per_sec + naive_end.rows_per_sec) / 2.0;
    for run in &mut runs {
        run.ratio_to_naive = run.ports_per_sec / naive_rows_per_sec;
    }

    let target_run = runs.iter().find(|r| r.concurrency == TARGET_CONCURRENCY);
    let targets = Targets {
        concurrency: TARGET_CONCURRENCY,
        min_ports_per_sec: TARGET_PORTS_PER_SEC,
        max_p99_ms: TARGET_P99_MS,
        met: target_run
            .map(|r| r.ports_per_sec >= TARGET_PORTS_PER_SEC && r.p99_ms < TARGET_P99_MS),
    };
    Ok(Results {
        ports: config.ports,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        weft: config.weft.clone(),
        work_dir: root.path().to_owned(),
        naive_reference_start: naive_start,
        naive_reference_end: naive_end,
        naive_rows_per_sec,
        runs,
        targets,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

async fn blocking_inserts(path: PathBuf, rows: usize, per_txn: usize) -> anyhow::Result<Inserts> {
    tokio::task::spawn_blocking(move || reference::sqlite_inserts(&path, rows, per_txn))
        .await
        .context("the reference panicked")?
}

/// One fresh server, one burst at concurrency `c`. The references and
/// ratios are filled in by the caller.
async fn measure(weft: &Path, dir: &Path, ports: usize, c: usize) -> anyhow::Result<Run> {
    let mut server = ServerProcess::start(weft, &dir.join("data"), &dir.join("server.log"))?;
    let client = Client::new(server.url())?;
    server.wait_ready(&client, Duration::from_secs(30)).await?;
    prepare(&client)
        .await
        .with_context(|| format!("setting up; server log:\n{}", server.log_tail()))?;

    let network = Ref::Name(NETWORK.parse()?);
    let burst = load::create_ports(&client, &network, ports, c)
        .await
        .with_context(|| format!("creating ports; server log:\n{}", server.log_tail()))?;
    if burst.addresses.len() != ports {
        bail!(
            "{} ports were created instead of {ports}",
            burst.addresses.len()
        );
    }
    load::check_addresses(&burst.addresses, in_subnet)
        .with_context(|| format!("at concurrency {c}"))?;
    let memory = server.memory()?;
    server.stop(Duration::from_secs(30)).await?;

    let summary = Summary::of(&burst.latencies).context("no latencies")?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(Run {
        concurrency: c,
        ports,
        seconds: burst.wall.as_secs_f64(),
        ports_per_sec: burst.ports_per_sec(),
        p50_ms: ms(summary.p50),
        p99_ms: ms(summary.p99),
        max_ms: ms(summary.max),
        mean_ms: ms(summary.mean),
        rss_mib: mib(memory.rss_kib),
        hwm_mib: mib(memory.hwm_kib),
        port_json_bytes: burst.port_json_bytes,
        ratio_to_naive: f64::NAN,
        batched_reference: None,
        ratio_to_batched: None,
    })
}

/// Inside [`SUBNET`].
fn in_subnet(address: IpAddr) -> bool {
    matches!(address, IpAddr::V4(v4) if v4.octets()[..2] == [10, 0])
}

pub(crate) async fn prepare(client: &Client) -> anyhow::Result<()> {
    client
        .create::<Projects>(&CreateProject {
            fq_name: PROJECT.parse()?,
            id: None,
            description: String::new(),
            tags: Vec::new(),
            external_id: None,
        })
        .await
        .context("creating the project")?;
    client
        .create::<VirtualNetworks>(&CreateNetwork {
            subnets: vec![CreateSubnet::with_cidr(SUBNET.parse()?)],
            ..CreateNetwork::named(NETWORK.parse()?)
        })
        .await
        .context("creating the network")?;
    Ok(())
}
