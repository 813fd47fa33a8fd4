//! Root only: a lab is found again by its prefix and removed completely
//! after its owner vanished without tearing it down (as after a crash),
//! processes inside its namespaces included.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use weft_lab::{Lab, LabConfig, Process, Topology, process::in_netns, survey, teardown};

/// Removes whatever a lab with this prefix left, however the test ends:
/// a failed check returns early, and the namespaces must not outlive it.
struct RemoveOnDrop(String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = teardown(&self.0, Duration::from_secs(2)) {
            eprintln!("teardown of {}: {e}", self.0);
        }
    }
}

fn netns_list() -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn teardown_by_prefix_after_a_crash() -> Result<()> {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
        || !Path::new("/proc/self/ns/net").exists()
    {
        eprintln!("SKIP: not root or no network namespaces");
        return Ok(());
    }
    let before = netns_list();
    let prefix = format!("wlt{}-", std::process::id());
    let _remove = RemoveOnDrop(prefix.clone());
    let dir = tempfile::tempdir()?;
    let config = LabConfig::new("/bin/false", dir.path().join("lab"));
    let lab = Lab::up(Topology::reference(&prefix)?, config.clone())?;

    // The fabric reaches every host: ping the server's address from a node.
    let out = lab
        .exec("os-compute", "busybox")?
        .args(["ping", "-c", "1", "-W", "2", "192.168.200.10"])
        .output()?;
    ensure!(out.status.success(), "underlay ping: {out:?}");

    // A process inside a lab namespace, then the owner "crashes".
    let mut sleeper = in_netns(&format!("{prefix}k8s-worker"), "sleep");
    sleeper.arg("600");
    let sleeper = Process::spawn("sleep", sleeper, &dir.path().join("sleep.log"))?;
    let pid = i32::try_from(sleeper.pid())?;
    std::mem::forget(sleeper);
    std::mem::forget(lab);

    // `ip netns exec` enters the namespace after it has started: give the
    // sleeper a moment to be seen there.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut found = survey(&prefix);
    while !found.iter().any(|s| s.pids.contains(&pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        found = survey(&prefix);
    }
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    // The fabric and one per host.
    ensure!(names.len() == 7, "namespaces of the lab: {names:?}");
    ensure!(
        found.iter().any(|s| s.pids.contains(&pid)),
        "the sleeper is not found: {found:?}"
    );
    ensure!(
        Lab::up(Topology::reference(&prefix)?, config).is_err(),
        "a second lab with the same prefix was allowed"
    );

    let removed = teardown(&prefix, Duration::from_secs(2))?;
    ensure!(
        removed.processes == vec![pid],
        "ended {:?}",
        removed.processes
    );
    ensure!(survey(&prefix).is_empty(), "left: {:?}", survey(&prefix));
    // Idempotent.
    ensure!(
        teardown(&prefix, Duration::from_secs(2))?
            .namespaces
            .is_empty()
    );
    // Other users of the machine may add or remove their own namespaces
    // meanwhile; none of this lab's may be left, none other removed by it.
    let mine = |set: BTreeSet<String>| -> BTreeSet<String> {
        set.into_iter().filter(|n| n.starts_with(&prefix)).collect()
    };
    ensure!(mine(netns_list()) == mine(before), "ip netns list changed");
    Ok(())
}
