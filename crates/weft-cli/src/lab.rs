//! `weft lab`: the reference topology on this machine (weft-lab).

use std::time::{Duration, Instant};

use anyhow::Context;
use weft_lab::{Lab, LabConfig, Topology};

use crate::args::LabSeedArgs;

/// Builds the lab with this very binary as server and agents, plays the
/// seed scenario with its transcript on stdout, and tears the lab down
/// (also when a step fails: the error is returned after teardown).
pub(crate) fn seed(args: LabSeedArgs) -> anyhow::Result<()> {
    let weft = std::env::current_exe().context("find the weft binary")?;
    // What a crashed run left behind goes first.
    weft_lab::teardown(&args.prefix, Duration::from_secs(2))
        .with_context(|| format!("remove the leftovers of lab {:?}", args.prefix))?;
    let started = Instant::now();
    let mut out = std::io::stdout();
    let topology = Topology::reference(&args.prefix)?;
    let mut lab = Lab::up(topology, LabConfig::new(weft, &args.state_dir))
        .context("build the lab's namespaces")?;
    let played = lab
        .start()
        .context("start the server and the agents")
        .and_then(|()| weft_lab::scenario::seed(&mut lab, &mut out).map_err(Into::into));
    if played.is_err() {
        for log in ["server", "agent-os-compute", "agent-k8s-worker"] {
            eprintln!("---- {log} (last lines) ----\n{}", lab.log_tail(log, 20));
        }
    }
    let removed = lab.down();
    played?;
    let removed = removed.context("tear the lab down")?;
    crate::output::text(&format!(
        "lab {:?}: up, scenario played, {} namespaces removed, in {:.1} s",
        args.prefix,
        removed.namespaces.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
