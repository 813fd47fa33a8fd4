//! `convergence`: from a port's plug on node A to its route programmed on
//! node B, over a real `weft server` and two real `weft agent`s in network
//! namespaces. Needs root. See `weft_bench::convergence` for the method.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use weft_bench::convergence::{self, ByOrder, Config, Order, Results};
use weft_bench::stats::MsSummary;

#[derive(Debug, Parser)]
#[command(about = "Port plug on node A → route programmed on node B, p50/p99 over many ports")]
struct Args {
    /// Ports per order.
    #[arg(long, default_value_t = 1_000)]
    ports: usize,
    /// Ports brought in per second (one at a time, steadily).
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Milliseconds between polls of node B's routes.
    #[arg(long, default_value_t = 1.0)]
    poll_ms: f64,
    /// Unmeasured ports brought in first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Orders to measure: cni (plug, then create) and/or nova (create, then plug).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "cni,nova")]
    order: Vec<Order>,
    /// The `weft` binary [default: `weft` next to this program].
    #[arg(long)]
    weft: Option<PathBuf>,
    /// Also write the results to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convergence: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = Config {
        ports: args.ports,
        rate: args.rate,
        poll: Duration::from_secs_f64(args.poll_ms / 1e3),
        warmup: args.warmup,
        orders: args.order,
        weft: match args.weft {
            Some(path) => path,
            None => convergence::default_weft()?,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    // Ctrl-C drops the benchmark's future, whose guards stop the processes
    // and remove the namespaces.
    let results = runtime.block_on(async {
        tokio::select! {
            r = convergence::run(&config) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; cleaned up")),
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(render(&results).as_bytes())?;
    stdout.flush()?;
    if let Some(path) = args.json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn render(r: &Results) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, r);
    out
}

fn row(out: &mut String, name: &str, s: Option<&MsSummary>) -> std::fmt::Result {
    match s {
        Some(s) => writeln!(
            out,
            "  {name:<28} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            s.count, s.min, s.p50, s.p90, s.p99, s.max
        ),
        None => writeln!(out, "  {name:<28} {:>6}", 0),
    }
}

fn ratio(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.2}"))
}

fn write_order(out: &mut String, p: &ByOrder, target: f64) -> std::fmt::Result {
    let what = match p.order {
        Order::Cni => "cni order: plug (veth created), then POST /v1/ports",
        Order::Nova => "nova order: POST /v1/ports, then plug (veth created)",
    };
    writeln!(
        out,
        "{what} — {} ports; not seen within 15 s: {} routes, {} ACTIVE",
        p.ports, p.missing_routes, p.missing_active
    )?;
    writeln!(
        out,
        "  {:<28} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "interval (ms)", "n", "min", "p50", "p90", "p99", "max"
    )?;
    row(out, "plug → route on B", p.plug_to_route_on_b.as_ref())?;
    row(out, "plug → ready (route+ACTIVE)", p.plug_to_ready.as_ref())?;
    row(
        out,
        "create sent → route on B",
        p.create_to_route_on_b.as_ref(),
    )?;
    row(out, "plug → ACTIVE (watch feed)", p.plug_to_active.as_ref())?;
    row(out, "ref: API create round trip", p.api_create.as_ref())?;
    row(out, "plug call (rtnetlink)", p.plug_call.as_ref())?;
    let tenths: Vec<String> = p
        .create_to_route_on_b_p50_by_tenth
        .iter()
        .map(|v| format!("{v:.1}"))
        .collect();
    writeln!(
        out,
        "  create sent → route on B, p50 per tenth of the ports (ms): {}",
        tenths.join(" ")
    )?;
    if p.route_before_plug > 0 {
        writeln!(
            out,
            "  {} of {} routes were on B before the plug (negative plug → route): the agent \
             publishes a port's route when its configuration arrives, not when the interface appears",
            p.route_before_plug, p.ports
        )?;
    }
    let verdict = |x: Option<f64>| match x {
        Some(x) if x < 1.0 => "MET",
        Some(_) => "NOT MET",
        None => "not measured",
    };
    writeln!(
        out,
        "  p99 plug → route on B ÷ {target:.0} ms target: {} ({}); p99 plug → ready ÷ target: {} ({}); \
         p99 plug → route on B ÷ p99 API create: {}",
        ratio(p.route_p99_over_target),
        verdict(p.route_p99_over_target),
        ratio(p.ready_p99_over_target),
        verdict(p.ready_p99_over_target),
        ratio(p.route_p99_over_api_p99)
    )?;
    writeln!(out)
}

fn write_report(out: &mut String, r: &Results) -> std::fmt::Result {
    writeln!(
        out,
        "weft convergence: real `weft server` + 2 `weft agent`s in namespaces, {} ports per order, \
         orders interleaved, {} ports per second, node B polled every {} ms; {} CPUs shared by \
         everything",
        r.ports_per_order, r.rate_per_sec, r.poll_ms, r.cpus
    )?;
    writeln!(out)?;
    for p in &r.by_order {
        write_order(out, p, r.target_p99_ms)?;
    }
    writeln!(
        out,
        "  {:<28} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "all ports (ms)", "n", "min", "p50", "p90", "p99", "max"
    )?;
    row(
        out,
        "ref: probe to B round trip",
        r.probe_round_trip.as_ref(),
    )?;
    row(out, "resolution of route on B", r.route_resolution.as_ref())?;
    let cpu: Vec<String> = r
        .cpu_seconds
        .iter()
        .map(|c| format!("{} {:.1} s", c.process, c.seconds))
        .collect();
    writeln!(
        out,
        "CPU used while the measured ports came in ({:.1} s × {} CPUs): {}",
        r.measured_seconds,
        r.cpus,
        cpu.join(", ")
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "route on B: first answer of B's /routes/get naming the /32, timestamped on arrival (late \
         by at most its resolution: previous probe of that prefix → the answer that found it). \
         ACTIVE: first port event on the server's watch feed showing ACTIVE, timestamped on \
         arrival. ready: the later of the two."
    )?;
    writeln!(out, "total run time: {:.1} s", r.total_seconds)
}
