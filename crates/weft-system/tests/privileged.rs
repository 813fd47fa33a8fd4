//! Privileged tests: each makes its own namespaces (named with the process
//! id), uses only 10.99.x.y addresses inside them, and deletes them at the
//! end, also on failure. Run as root with `--include-ignored`.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{NsGuard, ether, ip, ipv4_udp, privileged, recv_matching, veth_pair};
use weft_system::{
    GreSocket, MPLS_UDP_PORT, Netlink, Netns, PacketSocket, Tap, udp_socket, wait_readable,
};
use weft_types::MacAddr;

const SECOND: Duration = Duration::from_secs(1);
/// IEEE "local experimental" ethertype for hand-made test frames.
const TEST_ETHERTYPE: u16 = 0x88b5;

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn netns_create_exec_delete() {
    if !privileged("netns_create_exec_delete") {
        return;
    }
    let mut guard = NsGuard::default();
    let ns = guard.create("life");
    let name = ns.name().to_owned();
    assert!(Netns::exists(&name));
    assert!(
        ip(&["netns", "list"])
            .lines()
            .any(|l| l.split_whitespace().next() == Some(&name))
    );
    // `ip netns exec` enters the same namespace: it sees only `lo`.
    let links = ip(&["-n", &name, "-br", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.starts_with("lo"), "{links}");
    // A closure run inside sees the namespace's inode, not the host's.
    let host = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
    let inside = ns
        .run(|| std::fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino()))
        .unwrap()
        .unwrap();
    let file = std::fs::metadata(format!("/run/netns/{name}"))
        .unwrap()
        .ino();
    assert_ne!(inside, host);
    assert_eq!(inside, file);
    // A long-lived thread stays inside across jobs.
    let thread = ns.spawn_thread().unwrap();
    for _ in 0..3 {
        let ino = thread
            .run(|| std::fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino()))
            .unwrap()
            .unwrap();
        assert_eq!(ino, inside);
    }
    drop(thread);
    assert!(matches!(
        Netns::create(&name),
        Err(weft_system::NetnsError::AlreadyExists { .. })
    ));
    Netns::delete(&name).unwrap();
    assert!(!Netns::exists(&name));
    assert!(!ip(&["netns", "list"]).contains(&name));
    eprintln!("netns {name}: inode {inside} (host {host}); created, listed, entered, deleted");
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn veth_links_and_af_packet_between_namespaces() {
    if !privileged("veth_links_and_af_packet_between_namespaces") {
        return;
    }
    let mut guard = NsGuard::default();
    let (a, b, _, _) = veth_pair(&mut guard, "veth", 1);
    let mut nla = Netlink::open(&a).unwrap();
    let mut nlb = Netlink::open(&b).unwrap();

    // MAC, MTU, up/down, route, bridge.
    let mac_a = MacAddr([0x02, 0x99, 0, 0, 1, 1]);
    nla.set_down("va").unwrap();
    nla.set_mac("va", mac_a).unwrap();
    nla.set_mtu("va", 1400).unwrap();
    assert!(!nla.link("va").unwrap().up);
    nla.set_up("va").unwrap();
    let va = nla.link("va").unwrap();
    assert_eq!((va.mac, va.mtu, va.up), (Some(mac_a), 1400, true));
    nla.add_route(
        "10.99.2.0/24".parse().unwrap(),
        Some("10.99.1.2".parse().unwrap()),
        None,
    )
    .unwrap();
    let routes = ip(&["-n", a.name(), "route"]);
    assert!(
        routes.contains("10.99.2.0/24 via 10.99.1.2 dev va"),
        "{routes}"
    );
    nla.add_address("va", "fd99::1/64".parse().unwrap())
        .unwrap();
    assert!(ip(&["-n", a.name(), "addr", "show", "va"]).contains("fd99::1/64"));
    assert!(matches!(
        nla.link("nosuchdev"),
        Err(weft_system::LinkError::NotFound { .. })
    ));

    nlb.create_bridge("br0").unwrap();
    nlb.create_veth("vc", "vd").unwrap();
    nlb.set_master("vc", "br0").unwrap();
    let br = nlb.ifindex("br0").unwrap();
    assert_eq!(nlb.link("vc").unwrap().master, Some(br));
    nlb.delete_link("vc").unwrap();
    assert!(
        nlb.link("vd").is_err(),
        "deleting a veth end removes its peer"
    );
    nlb.delete_link("br0").unwrap();
    let names: Vec<String> = nlb.links().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["lo", "vb"], "only lo and vb remain in b");

    // A hand-made frame sent with AF_PACKET on va arrives on vb.
    let mac_b = nlb.mac("vb").unwrap();
    let tx = PacketSocket::bind_name(&a, "va").unwrap();
    let rx = PacketSocket::bind(&b, nlb.ifindex("vb").unwrap()).unwrap();
    let frame = ether(
        mac_b.0,
        mac_a.0,
        TEST_ETHERTYPE,
        b"weft-system af_packet test frame",
    );
    assert_eq!(tx.send(&frame).unwrap(), frame.len());
    let got = recv_matching(
        &rx,
        |buf| rx.recv(buf),
        3 * SECOND,
        |f| f == frame.as_slice(),
    );
    assert!(got.is_some(), "frame not received on vb");
    // The sender does not get its own outgoing copy back.
    let echo = recv_matching(
        &tx,
        |buf| tx.recv(buf),
        SECOND / 2,
        |f| f == frame.as_slice(),
    );
    assert!(echo.is_none(), "outgoing copy delivered to the sender");
    eprintln!(
        "veth: {} bytes va({mac_a}) -> vb({mac_b}) over AF_PACKET",
        frame.len()
    );
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn tap_frames_both_ways() {
    if !privileged("tap_frames_both_ways") {
        return;
    }
    let mut guard = NsGuard::default();
    let ns = guard.create("tap");
    let tap = Tap::open(&ns, "wtap0").unwrap();
    let mut nl = Netlink::open(&ns).unwrap();
    nl.add_address("wtap0", "10.99.3.1/24".parse().unwrap())
        .unwrap();
    nl.set_up("wtap0").unwrap();
    let tap_mac = nl.mac("wtap0").unwrap();
    let peer_mac = [0x02, 0x99, 0, 0, 3, 2];

    // The kernel sends a datagram to 10.99.3.2: first it ARPs out of the tap.
    let local = SocketAddr::from(([10, 99, 3, 1], 7000));
    let udp = udp_socket(&ns, local).unwrap();
    udp.send_to(b"to the vm", SocketAddr::from(([10, 99, 3, 2], 7001)))
        .unwrap();
    let arp = recv_matching(
        &tap,
        |buf| tap.recv(buf),
        3 * SECOND,
        |f| {
            f.len() >= 42
                && f[12..14] == [0x08, 0x06]
                && f[20..22] == [0, 1]
                && f[38..42] == [10, 99, 3, 2]
        },
    )
    .expect("ARP request for 10.99.3.2 read from the tap fd");

    // Answer it through the tap fd; the kernel then sends the datagram.
    let mut reply = vec![0, 1, 0x08, 0x00, 6, 4, 0, 2];
    reply.extend_from_slice(&peer_mac);
    reply.extend_from_slice(&[10, 99, 3, 2]);
    reply.extend_from_slice(&arp[22..28]);
    reply.extend_from_slice(&arp[28..32]);
    let reply = ether(tap_mac.0, peer_mac, 0x0806, &reply);
    assert_eq!(tap.send(&reply).unwrap(), reply.len());
    let data = recv_matching(
        &tap,
        |buf| tap.recv(buf),
        3 * SECOND,
        |f| f.len() >= 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f.ends_with(b"to the vm"),
    )
    .expect("UDP datagram read from the tap fd");
    assert_eq!(data[0..6], peer_mac, "sent to the MAC our ARP reply gave");

    // A datagram written into the tap reaches the socket in the namespace.
    let packet = ipv4_udp([10, 99, 3, 2], [10, 99, 3, 1], 7001, 7000, b"from the vm");
    let frame = ether(tap_mac.0, peer_mac, 0x0800, &packet);
    tap.send(&frame).unwrap();
    assert!(
        wait_readable(udp.as_fd(), 3 * SECOND).unwrap(),
        "no datagram"
    );
    let mut buf = [0u8; 64];
    let (n, from) = udp.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"from the vm");
    assert_eq!(from, SocketAddr::from(([10, 99, 3, 2], 7001)));
    eprintln!("tap wtap0 ({tap_mac}): read ARP + UDP, wrote ARP reply + UDP delivered to {local}");
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn udp_6635_between_namespaces() {
    if !privileged("udp_6635_between_namespaces") {
        return;
    }
    let mut guard = NsGuard::default();
    let (a, b, _, _) = veth_pair(&mut guard, "udp", 4);
    let sa = SocketAddr::from(([10, 99, 4, 1], MPLS_UDP_PORT));
    let sb = SocketAddr::from(([10, 99, 4, 2], MPLS_UDP_PORT));
    let ua = udp_socket(&a, sa).unwrap();
    let ub = udp_socket(&b, sb).unwrap();
    // An MPLS label stack entry (label 17, bottom of stack) + payload.
    let payload = [0x00, 0x01, 0x11, 0x40, 0xde, 0xad];
    ua.send_to(&payload, sb).unwrap();
    assert!(
        wait_readable(ub.as_fd(), 3 * SECOND).unwrap(),
        "nothing on b:6635"
    );
    let mut buf = [0u8; 64];
    let (n, from) = ub.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&payload[..], sa));
    ub.send_to(b"back", sa).unwrap();
    assert!(
        wait_readable(ua.as_fd(), 3 * SECOND).unwrap(),
        "nothing on a:6635"
    );
    let (n, from) = ua.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"back"[..], sb));
    eprintln!("udp: {sa} <-> {sb} both ways");
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn raw_gre_between_namespaces() {
    if !privileged("raw_gre_between_namespaces") {
        return;
    }
    let mut guard = NsGuard::default();
    let (a, b, _, _) = veth_pair(&mut guard, "gre", 5);
    let ga = GreSocket::bind(&a, Ipv4Addr::new(10, 99, 5, 1)).unwrap();
    let gb = GreSocket::bind(&b, Ipv4Addr::new(10, 99, 5, 2)).unwrap();
    // GRE header with protocol 0x8847 (MPLS unicast), label 17 S=1, payload.
    let gre = [0x00, 0x00, 0x88, 0x47, 0x00, 0x01, 0x11, 0x40, 0xca, 0xfe];
    // Watch the wire on vb with our own AF_PACKET socket.
    let wire = PacketSocket::bind_name(&b, "vb").unwrap();

    let tshark = tshark_capture(b.name());
    let deadline = Instant::now() + 20 * SECOND;
    let mut tshark_out = None;
    if let Some(mut child) = tshark {
        // tshark takes a while to start: send until it has seen one packet.
        while Instant::now() < deadline {
            ga.send_to(&gre, Ipv4Addr::new(10, 99, 5, 2)).unwrap();
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(SECOND / 5);
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        tshark_out = Some(String::from_utf8_lossy(&out.stdout).into_owned());
    } else {
        eprintln!("tshark not installed: checking the wire with AF_PACKET only");
        ga.send_to(&gre, Ipv4Addr::new(10, 99, 5, 2)).unwrap();
    }

    let frame = recv_matching(
        &wire,
        |buf| wire.recv(buf),
        3 * SECOND,
        |f| f.len() >= 34 && f[12..14] == [0x08, 0x00] && f[23] == 47,
    )
    .expect("an IPv4 proto 47 frame on vb");
    assert_eq!(frame[26..30], [10, 99, 5, 1]);
    assert_eq!(&frame[34..], &gre[..], "kernel added only the IPv4 header");

    let mut buf = [0u8; 2048];
    let got = recv_matching(
        &gb,
        |buf| gb.recv_from(buf).map(|(n, _)| n),
        3 * SECOND,
        |p| p == &gre[..],
    );
    assert!(got.is_some(), "GRE payload not received on b");
    ga.send_to(&gre, Ipv4Addr::new(10, 99, 5, 2)).unwrap();
    assert!(wait_readable(gb.as_fd(), 3 * SECOND).unwrap());
    let (n, src) = gb.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], src), (&gre[..], Ipv4Addr::new(10, 99, 5, 1)));

    if let Some(out) = tshark_out {
        let line = out.lines().next().unwrap_or_default();
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            ["47", "10.99.5.1", "10.99.5.2"],
            "tshark: {out}"
        );
        eprintln!("tshark on vb: {line}");
    }
    eprintln!(
        "gre: {} payload bytes 10.99.5.1 -> 10.99.5.2, IP proto 47 on the wire",
        gre.len()
    );
}

/// Starts `tshark` in namespace `ns` on `vb` for one IP-proto-47 packet,
/// printing protocol, source and destination; `None` if not installed.
fn tshark_capture(ns: &str) -> Option<std::process::Child> {
    let installed = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    if !installed.is_ok_and(|s| s.success()) {
        return None;
    }
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "tshark",
            "-i",
            "vb",
            "-c",
            "1",
            "-f",
            "ip proto 47",
        ])
        .args([
            "-T", "fields", "-e", "ip.proto", "-e", "ip.src", "-e", "ip.dst",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

#[cfg(feature = "tokio")]
#[tokio::test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
async fn async_wrappers_over_af_packet_and_gre() {
    use weft_system::asyncio::{AsyncFrames, AsyncGre};
    if !privileged("async_wrappers_over_af_packet_and_gre") {
        return;
    }
    let mut guard = NsGuard::default();
    let (a, b, mac_a, mac_b) = veth_pair(&mut guard, "async", 6);
    let tx = AsyncFrames::new(PacketSocket::bind_name(&a, "va").unwrap()).unwrap();
    let rx = AsyncFrames::new(PacketSocket::bind_name(&b, "vb").unwrap()).unwrap();
    let frame = ether(mac_b.0, mac_a.0, TEST_ETHERTYPE, b"async frame");
    tx.send(&frame).await.unwrap();
    let mut buf = vec![0u8; 2048];
    let got = tokio::time::timeout(3 * SECOND, async {
        loop {
            let n = rx.recv(&mut buf).await.unwrap();
            if buf[..n] == frame[..] {
                break;
            }
        }
    })
    .await;
    assert!(got.is_ok(), "async frame not received");
    let ga = AsyncGre::new(GreSocket::bind(&a, Ipv4Addr::new(10, 99, 6, 1)).unwrap()).unwrap();
    let gb = AsyncGre::new(GreSocket::bind(&b, Ipv4Addr::new(10, 99, 6, 2)).unwrap()).unwrap();
    ga.send_to(&[0, 0, 0x88, 0x47, 1], Ipv4Addr::new(10, 99, 6, 2))
        .await
        .unwrap();
    let (n, src) = tokio::time::timeout(3 * SECOND, gb.recv_from(&mut buf))
        .await
        .expect("async GRE in time")
        .unwrap();
    assert_eq!(
        (&buf[..n], src),
        (&[0, 0, 0x88, 0x47, 1][..], Ipv4Addr::new(10, 99, 6, 1))
    );
}
