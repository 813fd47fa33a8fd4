//! What the tests of the node's own stack share (`host.rs`,
//! `host_service.rs`): the lab's underlay addresses, processes the test
//! starts, and a web server on the fabric that tells who called it.

use std::os::unix::fs::PermissionsExt;
use std::process::Child;

use anyhow::Result;
use weft_lab::Lab;

pub(crate) const PODS: &str = "default-domain:k8s-default:pods";
pub(crate) const MASTER: &str = "k8s-master";
pub(crate) const MASTER_IP: &str = "192.168.200.12";
pub(crate) const NODE_IP: &str = "192.168.200.14";

/// Kills (by pid) and reaps a process this test started.
pub(crate) struct Started(pub(crate) Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl url` inside `from`: the body, or `None` if it failed.
pub(crate) fn fetch(lab: &Lab, from: &str, url: &str) -> Result<Option<String>> {
    let out = lab
        .exec(from, "curl")?
        .args(["-sf", "--noproxy", "*", "-m", "2", url])
        .output()?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The client address the whoami server reports, as plain IPv4 (busybox
/// httpd listens on a dual-stack socket: `[::ffff:a.b.c.d]`).
pub(crate) fn client_of(body: &str) -> String {
    body.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_start_matches("::ffff:")
        .to_owned()
}

/// A busybox web server in `host` on `port` whose `/cgi-bin/ip` answers
/// with the caller's address; it stops when the returned values drop.
pub(crate) fn whoami_server(
    lab: &Lab,
    host: &str,
    port: u16,
) -> Result<(tempfile::TempDir, Started)> {
    let site = tempfile::tempdir()?;
    let cgi = site.path().join("cgi-bin");
    std::fs::create_dir(&cgi)?;
    let script = cgi.join("ip");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n",
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    let httpd = Started(
        lab.exec(host, "busybox")?
            .args(["httpd", "-f", "-p", &port.to_string(), "-h"])
            .arg(site.path())
            .spawn()?,
    );
    Ok((site, httpd))
}
