//! Packet captures inside the lab: `dumpcap` on an interface of a lab
//! namespace, decoded afterwards with `tshark` (MPLSoUDP on 6635 as MPLS,
//! VXLAN on 4789, GRE as IP protocol 47).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::LabError;
use crate::process::{Process, in_netns};

/// A running capture.
#[derive(Debug)]
pub struct Capture {
    process: Process,
    file: PathBuf,
}

impl Capture {
    /// Starts `dumpcap` on `interface` in `netns`, writing `file`, with a
    /// capture filter (`""` for everything); returns once it captures.
    pub fn start(
        netns: &str,
        interface: &str,
        filter: &str,
        file: &Path,
    ) -> Result<Capture, LabError> {
        let mut command = in_netns(netns, "dumpcap");
        command.args(["-q", "-i", interface, "-w"]).arg(file);
        if !filter.is_empty() {
            command.args(["-f", filter]);
        }
        let mut process = Process::spawn("dumpcap", command, &file.with_extension("log"))?;
        // dumpcap writes the file header once the interface is open.
        process.wait_until(Duration::from_secs(10), || {
            std::fs::metadata(file).is_ok_and(|m| m.len() > 0)
        })?;
        Ok(Capture {
            process,
            file: file.to_owned(),
        })
    }

    /// Stops the capture (it flushes on SIGTERM) and returns the file.
    pub fn stop(mut self) -> PathBuf {
        // libpcap hands frames over in blocks, at the latest after its
        // buffer timeout; a block still open at SIGTERM would be lost.
        std::thread::sleep(Duration::from_millis(1100));
        self.process.stop(Duration::from_secs(5));
        self.file.clone()
    }
}

/// Decodes `file` with tshark: one row per packet matching
/// `display_filter`, one column per field holding every occurrence,
/// outermost first, joined by `,` (empty when absent). For a tunnelled
/// packet `ip.dst` is therefore `outer,inner`.
pub fn decode(
    file: &Path,
    display_filter: &str,
    fields: &[&str],
) -> Result<Vec<Vec<String>>, LabError> {
    let mut command = Command::new("tshark");
    command.args(["-n", "-r"]).arg(file).args([
        "-d",
        "udp.port==6635,mpls",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    if !display_filter.is_empty() {
        command.args(["-Y", display_filter]);
    }
    for field in fields {
        command.args(["-e", field]);
    }
    let out = command.output().map_err(|source| LabError::Io {
        what: "run tshark".into(),
        source,
    })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: format!("tshark -r {} -Y {display_filter:?}", file.display()),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect())
}
