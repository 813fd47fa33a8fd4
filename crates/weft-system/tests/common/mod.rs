//! Helpers of the privileged tests: uniquely named namespaces torn down by a
//! guard, a runtime check for root, and hand-built frames.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};

use weft_system::{Netlink, Netns, wait_readable};
use weft_types::MacAddr;

pub const WHY: &str = "needs root and network namespaces: run scripts/test as root";

/// Whether this process can create namespaces; says why not on stderr.
pub fn privileged(test: &str) -> bool {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        eprintln!("SKIP {test}: not running as root ({WHY})");
        return false;
    }
    if !std::path::Path::new("/proc/self/ns/net").exists() {
        eprintln!("SKIP {test}: this kernel has no network namespaces");
        return false;
    }
    true
}

/// Namespaces created by a test, deleted on drop (also when the test fails).
#[derive(Debug, Default)]
pub struct NsGuard {
    names: Vec<String>,
}

impl NsGuard {
    /// Creates `wsys-PID-TAG` and remembers it for deletion.
    pub fn create(&mut self, tag: &str) -> Netns {
        let name = format!("wsys-{}-{tag}", std::process::id());
        let ns = Netns::create(&name).expect("create netns");
        self.names.push(name);
        ns
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        for name in self.names.drain(..) {
            if !Netns::exists(&name) {
                continue;
            }
            if let Err(e) = Netns::delete(&name) {
                eprintln!("teardown: {e}");
            }
        }
    }
}

/// Output of `ip ARGS` (panics if it fails).
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces joined by a veth pair `va` (in a, `A_IP/24`) ⇄ `vb`
/// (in b, `B_IP/24`), both up. Returns (a, b, mac of va, mac of vb).
pub fn veth_pair(guard: &mut NsGuard, tag: &str, net: u8) -> (Netns, Netns, MacAddr, MacAddr) {
    let a = guard.create(&format!("{tag}a"));
    let b = guard.create(&format!("{tag}b"));
    let mut nla = Netlink::open(&a).expect("netlink a");
    let mut nlb = Netlink::open(&b).expect("netlink b");
    nla.create_veth("va", "vb").expect("create veth");
    nla.move_to_netns("vb", &b).expect("move vb");
    nla.add_address("va", format!("10.99.{net}.1/24").parse().expect("net"))
        .expect("addr a");
    nlb.add_address("vb", format!("10.99.{net}.2/24").parse().expect("net"))
        .expect("addr b");
    for dev in ["va", "lo"] {
        nla.set_up(dev).expect("set up a");
    }
    for dev in ["vb", "lo"] {
        nlb.set_up(dev).expect("set up b");
    }
    let ma = nla.mac("va").expect("mac a");
    let mb = nlb.mac("vb").expect("mac b");
    (a, b, ma, mb)
}

/// Receives until `want` accepts a frame or `timeout` passes.
pub fn recv_matching(
    fd: impl AsFd,
    mut recv: impl FnMut(&mut [u8]) -> io::Result<usize>,
    timeout: Duration,
    mut want: impl FnMut(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let end = Instant::now() + timeout;
    let mut buf = vec![0u8; 65536];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if !wait_readable(fd.as_fd(), left).expect("poll") {
            return None;
        }
        match recv(&mut buf) {
            Ok(n) if want(&buf[..n]) => return Some(buf[..n].to_vec()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("recv: {e}"),
        }
    }
    None
}

/// An Ethernet frame: dst, src, ethertype, payload.
pub fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The Internet checksum of `data`.
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4/UDP packet (UDP checksum 0, which IPv4 allows).
pub fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + data.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let csum = inet_checksum(&p);
    p[10..12].copy_from_slice(&csum.to_be_bytes());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(data);
    p
}
