//! `port-create`: port creation through the native API at several
//! concurrencies, against the cost of naive durability on the same disk.
//! See the `weft_bench` crate documentation for what is measured.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use weft_bench::port_create::{self, Config};
use weft_bench::report;

#[derive(Debug, Parser)]
#[command(about = "Port creation through weft's native API, against naive durability")]
struct Args {
    /// Ports created at each concurrency (all on one /16).
    #[arg(long, default_value_t = 10_000)]
    ports: usize,
    /// Concurrent clients, one fresh server per value.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// The `weft` binary [default: `weft` next to this program].
    #[arg(long)]
    weft: Option<PathBuf>,
    /// Also write the results to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory for the temporary server data and reference databases
    /// [default: the system temporary directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("port-create: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let weft = match args.weft {
        Some(path) => path,
        None => std::env::current_exe()
            .context("cannot find this program's path")?
            .with_file_name("weft"),
    };
    let config = Config {
        ports: args.ports,
        concurrency: args.concurrency,
        weft,
        work_dir: args.work_dir,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let results = runtime.block_on(port_create::run(&config))?;

    let mut stdout = std::io::stdout().lock();
    stdout.write_all(report::render(&results).as_bytes())?;
    stdout.flush()?;
    if let Some(path) = args.json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
