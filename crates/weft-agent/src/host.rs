//! The node's own stack (TF's vhost0): a tap the agent creates and holds
//! in the node's namespace, attached to the engine as the host vif, so
//! that the node reaches its local workloads (kubelet probes) and the
//! workloads of VNs with `fabric_snat` reach the fabric through the
//! node's kernel, which masquerades them to its underlay address.
//!
//! The reconciler decides what the kernel needs ([`KernelChanges`]);
//! [`HostStack`] carries it out with `ip` and `nft` inside the node's
//! namespace, and undoes it on [`HostStack::teardown`]. The kernel routes
//! go with the tap when the agent exits; the NAT table is removed
//! explicitly.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::net::IpAddr;
use tokio::io::AsyncWriteExt;
use tokio::process::Command as Process;

use weft_types::{MacAddr, Prefix};
use weft_vrouter::{
    Command, NextHop, NextHopKind, NhId, VifConfig, VifId, VifKind, VrfConfig, VrfId,
};

/// The host VRF: no VN has id 0.
pub const HOST_VRF: VrfId = VrfId(0);
/// The host vif: `vif0/0`, as in TF (port vif ids start at 1).
pub const HOST_VIF: VifId = VifId(0);
/// The MAC the agent gives the host tap. It never leaves the node: the
/// tap's only peer is the engine.
pub const HOST_MAC: MacAddr = MacAddr([0x02, 0x77, 0x65, 0x66, 0x74, 0x00]);
/// The nftables table that holds the masquerade rule.
pub const NAT_TABLE: &str = "weft_fabric_snat";

/// What the node's kernel must change after one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelChanges {
    /// `<addr>/32 dev <host interface> src <underlay>` to add (or replace).
    pub add_routes: Vec<Ipv4Addr>,
    /// Routes to local workloads that went away.
    pub delete_routes: Vec<Ipv4Addr>,
    /// The new set of sources to masquerade when it changed; an empty set
    /// removes the rule (and forwarding is no longer needed).
    pub snat: Option<Vec<Prefix>>,
}

impl KernelChanges {
    pub fn is_empty(&self) -> bool {
        *self == KernelChanges::default()
    }
}

/// The `nft -f -` script that makes the masquerade table hold exactly one
/// rule for `sources` leaving other than through `interface` (an empty
/// `sources`: the table is removed). Idempotent: a table left by an agent
/// that died is replaced.
pub fn nft_script(interface: &str, sources: &[Prefix]) -> String {
    let mut script = format!("table ip {NAT_TABLE} {{}}\ndelete table ip {NAT_TABLE}\n");
    let v4: Vec<String> = sources
        .iter()
        .filter(|p| p.is_ipv4())
        .map(ToString::to_string)
        .collect();
    if v4.is_empty() {
        return script;
    }
    script.push_str(&format!(
        "table ip {NAT_TABLE} {{\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {{ {} }} oifname != \"{interface}\" masquerade\n\
         \t}}\n\
         }}\n",
        v4.join(", ")
    ));
    script
}

/// The host VRF, the host vif and its next hop.
pub(crate) fn host_commands(interface: &str, underlay: Ipv4Addr, nh: NhId) -> Vec<Command> {
    vec![
        Command::AddVrf(VrfConfig {
            id: HOST_VRF,
            vni: None,
            name: "host".into(),
        }),
        Command::AddVif(VifConfig {
            id: HOST_VIF,
            name: interface.to_owned(),
            kind: VifKind::Host,
            mac: HOST_MAC,
            addrs: vec![IpAddr::V4(underlay)],
            vrf: HOST_VRF,
            policy: false,
            allowed_address_pairs: Vec::new(),
            sgs: Vec::new(),
            label: None,
            dhcp: None,
        }),
        Command::AddNextHop(NextHop {
            id: nh,
            kind: NextHopKind::Encap { vif: HOST_VIF },
        }),
    ]
}

/// Why a kernel change failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot run {program}")]
    Spawn {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {stderr}")]
    Failed { command: String, stderr: String },
}

/// Carries out [`KernelChanges`] in the node's namespace.
#[derive(Debug, Clone)]
pub struct HostStack {
    /// `ip netns` name; `None`: the agent's own namespace.
    netns: Option<String>,
    interface: String,
    underlay: Ipv4Addr,
    /// Whether this agent switched IPv4 forwarding on (and so must switch
    /// it off again); shared by the clones that tear down.
    forwarding_ours: Arc<AtomicBool>,
}

impl HostStack {
    pub fn new(netns: Option<String>, interface: impl Into<String>, underlay: Ipv4Addr) -> Self {
        HostStack {
            netns,
            interface: interface.into(),
            underlay,
            forwarding_ours: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// `program args…`, inside the node's namespace.
    fn command(&self, program: &'static str, args: &[&str]) -> (Process, String) {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut cmd = Process::new("ip");
                cmd.args(["netns", "exec", ns, program]);
                cmd
            }
            None => Process::new(program),
        };
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        (cmd, format!("{program} {}", args.join(" ")))
    }

    async fn run(
        &self,
        program: &'static str,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, HostError> {
        let (mut cmd, text) = self.command(program, args);
        let mut child = cmd
            .spawn()
            .map_err(|source| HostError::Spawn { program, source })?;
        if let Some(mut stdin) = child.stdin.take() {
            if let Some(input) = input {
                stdin
                    .write_all(input.as_bytes())
                    .await
                    .map_err(|source| HostError::Spawn { program, source })?;
            }
            drop(stdin);
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|source| HostError::Spawn { program, source })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(HostError::Failed {
                command: text,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// Applies `changes`; every failure is returned, none stops the rest.
    pub async fn apply(&mut self, changes: &KernelChanges) -> Vec<HostError> {
        let mut errors = Vec::new();
        let src = self.underlay.to_string();
        for addr in &changes.delete_routes {
            let dest = format!("{addr}/32");
            let args = ["route", "del", &dest, "dev", &self.interface];
            if let Err(e) = self.run("ip", &args, None).await {
                errors.push(e);
            }
        }
        for addr in &changes.add_routes {
            let dest = format!("{addr}/32");
            let args = [
                "route",
                "replace",
                &dest,
                "dev",
                &self.interface,
                "src",
                &src,
            ];
            if let Err(e) = self.run("ip", &args, None).await {
                errors.push(e);
            }
        }
        if let Some(sources) = &changes.snat {
            let wanted = sources.iter().any(|p| p.is_ipv4());
            if let Err(e) = self.forwarding(wanted).await {
                errors.push(e);
            }
            let script = nft_script(&self.interface, sources);
            if let Err(e) = self.run("nft", &["-f", "-"], Some(&script)).await {
                errors.push(e);
            }
        }
        errors
    }

    /// Switches IPv4 forwarding on when masquerading needs it and it was
    /// off; back off when no longer needed, if this agent switched it on.
    async fn forwarding(&self, wanted: bool) -> Result<(), HostError> {
        let ours = self.forwarding_ours.load(Ordering::SeqCst);
        if wanted && !ours {
            let now = self
                .run("sysctl", &["-n", "net.ipv4.ip_forward"], None)
                .await?;
            if now.trim() == "0" {
                self.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"], None)
                    .await?;
                self.forwarding_ours.store(true, Ordering::SeqCst);
            }
        } else if !wanted && ours {
            self.run("sysctl", &["-qw", "net.ipv4.ip_forward=0"], None)
                .await?;
            self.forwarding_ours.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Removes the masquerade table and switches forwarding back off if
    /// this agent switched it on (the routes go with the tap).
    pub async fn teardown(&mut self) -> Result<(), HostError> {
        let forwarding = self.forwarding(false).await;
        let script = nft_script(&self.interface, &[]);
        self.run("nft", &["-f", "-"], Some(&script)).await?;
        forwarding
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nft_script_replaces_the_table_and_masquerades_only_v4_sources() {
        let sources: Vec<Prefix> = vec![
            "10.32.0.0/24".parse().unwrap(),
            "fd00::/64".parse().unwrap(),
            "10.33.0.0/16".parse().unwrap(),
        ];
        let script = nft_script("vhost0", &sources);
        assert!(script.starts_with(
            "table ip weft_fabric_snat {}\ndelete table ip weft_fabric_snat\ntable ip weft_fabric_snat {"
        ));
        assert!(
            script.contains(
                "ip saddr { 10.32.0.0/24, 10.33.0.0/16 } oifname != \"vhost0\" masquerade"
            ),
            "{script}"
        );
        assert!(!script.contains("fd00"));
        // No sources: only the removal.
        assert_eq!(
            nft_script("vhost0", &[]),
            "table ip weft_fabric_snat {}\ndelete table ip weft_fabric_snat\n"
        );
        assert_eq!(
            nft_script("vhost0", &["fd00::/64".parse().unwrap()]),
            nft_script("vhost0", &[])
        );
    }
}
