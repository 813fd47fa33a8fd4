//! The `weft` command: runs the server and manages resources through the
//! native API. Everything here is thin glue over `weft-server` and the
//! `weft-api` client; no model logic lives in the CLI. [`vm`] plays Nova's
//! part (Neutron port, QEMU on its tap) where Nova is absent; its QEMU
//! launch is public so the tests that boot a VM by hand use the same one.

mod args;
mod introspect;
mod lab;
mod output;
mod resources;
mod server;
pub mod vm;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Format};

/// Parses the command line, runs it, and turns errors into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if prints_and_exits(&cli.command) {
        end_quietly_on_closed_pipe();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("weft: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a command only prints an answer and ends: the ones a person pipes
/// into `head` or `grep -q`. The daemons and the lab, which own processes
/// and namespaces to stop cleanly, are not among them.
fn prints_and_exits(command: &args::Command) -> bool {
    !matches!(
        command,
        args::Command::Server(_) | args::Command::Agent(_) | args::Command::Lab(_)
    )
}

/// A closed stdout ends the process as it ends `ls` or `ip`, instead of a
/// panic from `println!` ("failed printing to stdout: Broken pipe").
fn end_quietly_on_closed_pipe() {
    if let Err(e) = weft_system::default_sigpipe() {
        eprintln!("weft: cannot restore SIGPIPE: {e}");
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        args::Command::Server(args) => server::run(args).await,
        args::Command::Agent(args) => server::run_agent(args).await,
        args::Command::Vif(args) => introspect::vif(cli.output, args).await,
        args::Command::Rt(args) => introspect::rt(cli.output, args).await,
        args::Command::Nh(args) => introspect::nh(cli.output, args).await,
        args::Command::Flow(args) => introspect::flow(cli.output, args).await,
        args::Command::Dropstats(args) => introspect::dropstats(cli.output, args).await,
        args::Command::Lab(cmd) => tokio::task::spawn_blocking(move || lab::run(cmd)).await?,
        args::Command::Vm(cmd) => vm::run(cli.output, *cmd).await,
        command => resources::run(&cli.server, cli.output, command).await,
    }
}
