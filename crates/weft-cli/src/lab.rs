//! `weft lab`: the reference topology on this machine (weft-lab), brought
//! up once and used by later commands, or played from nothing to nothing.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use weft_lab::{Lab, LabConfig, Topology};

use crate::args::{LabArgs, LabCmd, LabExecArgs, LabScenarioCmd};
use crate::output::text;

/// How long a lab process gets after SIGTERM on `down`.
const GRACE: Duration = Duration::from_secs(5);

pub(crate) fn run(cmd: LabCmd) -> anyhow::Result<()> {
    match cmd {
        LabCmd::Up(args) => up(&args).map(|_| ()),
        LabCmd::Scenario(LabScenarioCmd::Seed(args)) => scenario_seed(&args),
        LabCmd::Status(args) => status(&args),
        LabCmd::Exec(args) => exec(args),
        LabCmd::Down(args) => down(&args),
        LabCmd::Seed(args) => seed(&args),
    }
}

fn state_dir(args: &LabArgs) -> PathBuf {
    args.state_dir.join(args.prefix.trim_end_matches('-'))
}

fn config(args: &LabArgs) -> anyhow::Result<LabConfig> {
    let weft = std::env::current_exe().context("find the weft binary")?;
    Ok(LabConfig::new(weft, state_dir(args)))
}

fn elapsed(since: Instant) -> String {
    format!("{:>5.1} s", since.elapsed().as_secs_f64())
}

/// Builds the lab and starts its processes, reporting each step.
fn build(args: &LabArgs) -> anyhow::Result<Lab> {
    let started = Instant::now();
    let topology = Topology::reference(&args.prefix)?;
    let mut lab = Lab::up(topology, config(args)?).context("build the lab's namespaces")?;
    text(&format!(
        "[{}] namespaces and fabric of lab {:?}",
        elapsed(started),
        args.prefix
    ));
    lab.start_server().context("start weft server")?;
    text(&format!(
        "[{}] weft server on cnt-control",
        elapsed(started)
    ));
    let computes: Vec<String> = lab.topology().computes().map(|h| h.name.clone()).collect();
    for host in computes {
        lab.start_agent(&host)
            .with_context(|| format!("start the agent of {host}"))?;
        text(&format!("[{}] weft agent on {host}", elapsed(started)));
    }
    Ok(lab)
}

fn up(args: &LabArgs) -> anyhow::Result<()> {
    let lab = build(args)?;
    for host in lab.topology().hosts() {
        text(&format!(
            "  {:<12} {:<16} {}",
            host.name,
            host.underlay_ip,
            lab.topology().netns(&host.name)
        ));
    }
    let pids = lab.leave_running();
    for (name, pid) in pids {
        text(&format!("  {name}: pid {pid}"));
    }
    text(&format!(
        "lab {:?} is up; `weft lab scenario seed`, `weft lab exec HOST -- CMD`, `weft lab down`",
        args.prefix
    ));
    Ok(())
}

fn attach(args: &LabArgs) -> anyhow::Result<Lab> {
    Ok(Lab::attach(
        Topology::reference(&args.prefix)?,
        config(args)?,
    )?)
}

fn scenario_seed(args: &LabArgs) -> anyhow::Result<()> {
    let mut lab = attach(args)?;
    let result = weft_lab::scenario::seed(&mut lab, &mut std::io::stdout());
    if result.is_err() {
        for log in ["server", "agent-os-compute", "agent-k8s-worker"] {
            eprintln!("---- {log} (last lines) ----\n{}", lab.log_tail(log, 20));
        }
    }
    Ok(result?)
}

fn status(args: &LabArgs) -> anyhow::Result<()> {
    let namespaces = weft_lab::survey(&args.prefix);
    if namespaces.is_empty() {
        text(&format!("no lab {:?} is up", args.prefix));
        return Ok(());
    }
    let topology = Topology::reference(&args.prefix)?;
    for ns in namespaces {
        let name = ns.name.strip_prefix(&args.prefix).unwrap_or(&ns.name);
        let role = topology
            .hosts()
            .iter()
            .find(|h| h.name == name)
            .map_or_else(
                || {
                    if name == "fabric" {
                        "fabric (underlay bridge)".to_owned()
                    } else {
                        "workload".to_owned()
                    }
                },
                |h| format!("{:?} {}", h.role, h.underlay_ip),
            );
        let processes: Vec<String> = ns
            .pids
            .iter()
            .map(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.replace('\0', " ").trim().to_owned())
                    .unwrap_or_default();
                format!("{pid} {comm}")
            })
            .collect();
        text(&format!("{name:<12} {role}"));
        for p in processes {
            text(&format!("    {p}"));
        }
    }
    Ok(())
}

fn exec(args: LabExecArgs) -> anyhow::Result<()> {
    let topology = Topology::reference(&args.lab.prefix)?;
    let netns = topology.netns(&args.name);
    if !weft_lab::lab_namespaces(&args.lab.prefix).contains(&netns) {
        bail!(
            "no host or workload {:?} in lab {:?} (is it up?)",
            args.name,
            args.lab.prefix
        );
    }
    let (program, rest) = args.command.split_first().context("no command given")?;
    let err = std::process::Command::new("ip")
        .args(["netns", "exec", &netns, program])
        .args(rest)
        .env("WEFT_SERVER", topology.api_url()?)
        .env("WEFT_AGENT", topology.introspect_url())
        .exec();
    Err(err).with_context(|| format!("run {program} in {netns}"))
}

fn down(args: &LabArgs) -> anyhow::Result<()> {
    let removed = weft_lab::teardown(&args.prefix, GRACE)
        .with_context(|| format!("tear lab {:?} down", args.prefix))?;
    let dir = state_dir(args);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    text(&format!(
        "lab {:?}: {} processes stopped, {} namespaces removed",
        args.prefix,
        removed.processes.len(),
        removed.namespaces.len()
    ));
    Ok(())
}

/// Up, scenario, down: the lab is removed even when a step fails (the
/// error comes after the teardown); leftovers of a crashed run go first.
fn seed(args: &LabArgs) -> anyhow::Result<()> {
    down(args)?;
    let started = Instant::now();
    let mut lab = build(args)?;
    let played = weft_lab::scenario::seed(&mut lab, &mut std::io::stdout());
    if played.is_err() {
        for log in ["server", "agent-os-compute", "agent-k8s-worker"] {
            eprintln!("---- {log} (last lines) ----\n{}", lab.log_tail(log, 20));
        }
    }
    let removed = lab.down();
    played?;
    let removed = removed.context("tear the lab down")?;
    text(&format!(
        "lab {:?}: up, scenario played, {} namespaces removed, in {:.1} s",
        args.prefix,
        removed.namespaces.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
