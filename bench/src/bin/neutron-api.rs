//! `neutron-api`: port creation through the Neutron v2.0 API with Keystone
//! tokens, weft against a real Neutron measured in the same run by the same
//! client. See `weft_bench::neutron_api`; `bench/neutron/run` brings the
//! servers up.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde::Serialize;
use weft_bench::neutron_api::{self, Api, Credentials, Load, Measured};

/// The target: weft's throughput over real Neutron's.
const TARGET_RATIO: f64 = 100.0;

#[derive(Debug, Parser)]
#[command(about = "Port creation through the Neutron API: weft against a real Neutron")]
struct Args {
    /// Keystone's endpoint, without /v3 (loopback only).
    #[arg(long)]
    keystone_url: String,
    /// The user the load runs as, a member of --project.
    #[arg(long, default_value = "demo")]
    user: String,
    #[arg(long, default_value = "secret")]
    password: String,
    #[arg(long, default_value = "k8s-contrail")]
    project: String,
    /// weft's Neutron API (loopback only).
    #[arg(long)]
    weft_url: String,
    /// The real Neutron's API, the reference (loopback only).
    #[arg(long)]
    neutron_url: String,
    /// Ports per burst against weft.
    #[arg(long, default_value_t = 5_000)]
    weft_ports: usize,
    /// Ports per burst against Neutron.
    #[arg(long, default_value_t = 400)]
    neutron_ports: usize,
    /// Seconds after which a burst stops sending (each burst, each server).
    #[arg(long, default_value_t = 60)]
    time_cap: u64,
    #[arg(long, value_delimiter = ',', default_value = "4,16")]
    concurrency: Vec<usize>,
    /// Also write the results to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Recorded in the JSON: how many gunicorn workers Neutron runs.
    #[arg(long)]
    neutron_workers: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Results {
    cpus: usize,
    user: String,
    neutron_workers: Option<usize>,
    time_cap_seconds: u64,
    runs: Vec<Measured>,
    ratios: Vec<Ratio>,
    target_ratio: f64,
    target_met: bool,
    total_seconds: f64,
}

#[derive(Debug, Serialize)]
struct Ratio {
    concurrency: usize,
    weft_over_neutron: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("neutron-api: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("neutron-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let max_c = args.concurrency.iter().copied().max().unwrap_or(1);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(max_c)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(300))
        .build()
        .context("cannot build the HTTP client")?;
    let creds = Credentials {
        keystone: args.keystone_url.clone(),
        user: args.user.clone(),
        password: args.password.clone(),
        project: args.project.clone(),
    };
    let token = neutron_api::token(&http, &creds).await?;
    let servers = [
        (
            "weft",
            Api::new(http.clone(), &args.weft_url, token.clone())?,
            args.weft_ports,
        ),
        (
            "neutron",
            Api::new(http.clone(), &args.neutron_url, token)?,
            args.neutron_ports,
        ),
    ];
    let mut runs = Vec::new();
    let mut octet = 0u8;
    for &c in &args.concurrency {
        for (name, api, ports) in &servers {
            octet = octet.wrapping_add(1);
            let load = Load {
                ports: *ports,
                concurrency: c,
                time_cap: Duration::from_secs(args.time_cap),
            };
            eprintln!("{name}: up to {ports} ports at concurrency {c}");
            let m = neutron_api::measure(api, name, load, octet).await?;
            eprintln!(
                "{name}: {} ports in {:.1} s, {:.1} ports/s",
                m.ports_created, m.wall_seconds, m.ports_per_sec
            );
            runs.push(m);
        }
    }
    let rate = |server: &str, c: usize| {
        runs.iter()
            .find(|m| m.server == server && m.concurrency == c)
            .map(|m| m.ports_per_sec)
    };
    let ratios: Vec<Ratio> = args
        .concurrency
        .iter()
        .filter_map(|&c| {
            Some(Ratio {
                concurrency: c,
                weft_over_neutron: rate("weft", c)? / rate("neutron", c)?,
            })
        })
        .collect();
    let results = Results {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        user: format!("{} (project {})", args.user, args.project),
        neutron_workers: args.neutron_workers,
        time_cap_seconds: args.time_cap,
        target_met: !ratios.is_empty()
            && ratios.iter().all(|r| r.weft_over_neutron >= TARGET_RATIO),
        runs,
        ratios,
        target_ratio: TARGET_RATIO,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(render(&results).as_bytes())?;
    out.flush()?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn render(r: &Results) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Neutron API port-create with Keystone tokens ({}), same client, same run; {} CPUs shared \
         by servers, Keystone, MariaDB and client",
        r.user, r.cpus
    );
    let _ = writeln!(
        s,
        "\n{:>8} {:>11} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>10}",
        "server",
        "concurrency",
        "ports",
        "wall s",
        "ports/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "deletes/s"
    );
    for m in &r.runs {
        let _ = writeln!(
            s,
            "{:>8} {:>11} {:>8} {:>8.1} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>10.1}",
            m.server,
            m.concurrency,
            format!("{}{}", m.ports_created, if m.capped { "*" } else { "" }),
            m.wall_seconds,
            m.ports_per_sec,
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            m.deletes_per_sec
        );
    }
    let _ = writeln!(s);
    for ratio in &r.ratios {
        let _ = writeln!(
            s,
            "concurrency {:>2}: weft / Neutron = {:.0}× ports/s",
            ratio.concurrency, ratio.weft_over_neutron
        );
    }
    let _ = writeln!(
        s,
        "* stopped by the {} s time cap. Issue target: weft ≥ {:.0}× Neutron at each concurrency: {}",
        r.time_cap_seconds,
        r.target_ratio,
        if r.target_met { "MET" } else { "NOT MET" }
    );
    let _ = writeln!(s, "total run time: {:.1} s", r.total_seconds);
    s
}
