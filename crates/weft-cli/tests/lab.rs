//! `weft lab` as an operator uses it: up, status, the seed scenario, exec
//! into a workload, down (twice: the second is a no-op), with the real
//! binary. Needs root; says why and passes otherwise.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};

use anyhow::{Result, ensure};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn lab(prefix: &str, state: &std::path::Path, args: &[&str]) -> Result<Output> {
    let (verb, rest) = args.split_first().unwrap_or((&"status", &[]));
    let out = Command::new(WEFT)
        .args(["lab", verb, "--prefix", prefix, "--state-dir"])
        .arg(state)
        .args(rest)
        .output()?;
    Ok(out)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn namespaces(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn up_scenario_exec_status_and_down() -> Result<()> {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        eprintln!("SKIP: not running as root (weft lab builds network namespaces)");
        return Ok(());
    }
    let prefix = format!("wlc{}-", std::process::id());
    let state = tempfile::tempdir()?;
    let result = (|| -> Result<()> {
        let up = lab(&prefix, state.path(), &["up"])?;
        ensure!(up.status.success(), "weft lab up: {}", text(&up));
        ensure!(
            text(&up).contains("weft agent on k8s-worker"),
            "{}",
            text(&up)
        );
        let again = lab(&prefix, state.path(), &["up"])?;
        ensure!(
            !again.status.success(),
            "a second up must refuse: {}",
            text(&again)
        );

        let status = text(&lab(&prefix, state.path(), &["status"])?);
        for want in [
            "cnt-control",
            "os-compute",
            "k8s-worker",
            "weft server",
            "weft agent",
        ] {
            ensure!(status.contains(want), "status lacks {want}: {status}");
        }

        let seed = Command::new(WEFT)
            .args([
                "lab",
                "scenario",
                "seed",
                "--prefix",
                &prefix,
                "--state-dir",
            ])
            .arg(state.path())
            .output()?;
        let transcript = text(&seed);
        ensure!(seed.status.success(), "scenario seed: {transcript}");
        for want in [
            "ip=192.168.1.3 mask=24 router=192.168.1.1",
            "Type:Tunnel",
            "Sip:192.168.200.14 Dip:192.168.200.13",
            "0 packets received, 100% packet loss",
            "every expected result held",
        ] {
            ensure!(
                transcript.contains(want),
                "transcript lacks {want:?}:\n{transcript}"
            );
        }

        let ping = lab(
            &prefix,
            state.path(),
            &[
                "exec",
                "cont",
                "--",
                "busybox",
                "ping",
                "-c",
                "2",
                "192.168.1.3",
            ],
        )?;
        ensure!(
            text(&ping).contains("2 packets received"),
            "weft lab exec cont -- ping: {}",
            text(&ping)
        );
        let ports = lab(
            &prefix,
            state.path(),
            &["exec", "cnt-control", "--", WEFT, "port", "list"],
        )?;
        ensure!(
            text(&ports).contains("192.168.1.4") && text(&ports).contains("ACTIVE"),
            "weft lab exec cnt-control -- weft port list: {}",
            text(&ports)
        );
        let nowhere = lab(&prefix, state.path(), &["exec", "nowhere", "--", "true"])?;
        ensure!(
            !nowhere.status.success(),
            "exec into an unknown host must fail"
        );
        Ok(())
    })();
    let down = lab(&prefix, state.path(), &["down"])?;
    let second = lab(&prefix, state.path(), &["down"])?;
    result?;
    ensure!(down.status.success(), "weft lab down: {}", text(&down));
    ensure!(
        text(&second).contains("0 processes stopped, 0 namespaces removed"),
        "a second down must be a no-op: {}",
        text(&second)
    );
    let left = namespaces(&prefix);
    ensure!(left.is_empty(), "namespaces left: {left:?}");
    Ok(())
}
