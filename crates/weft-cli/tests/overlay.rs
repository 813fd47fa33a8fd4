//! End to end with real packets: the `weft` binary as server and agents in
//! the reference topology (weft-lab: one namespace per host on a fabric
//! bridge), objects made through the CLI, VM and pod stand-ins in their
//! own namespaces, busybox `udhcpc`/`ping` as the guests, and `tshark` on
//! the fabric to see what really travels; and a real QEMU VM booting the
//! image `scripts/vm-image` builds. Each test builds its own lab
//! (unique namespace prefix), tears it down, and checks that `ip netns
//! list` is as before.

#[path = "overlay/support.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use support::*;
use weft_cli::vm::qemu;
use weft_lab::{Lab, decode};

/// DESIGN §2: DHCP gives the VM .3, the pod has .4; pod → VM is refused by
/// the VM's `default` group until a rule admits the pod, by CIDR or by the
/// pod's group; replies of admitted flows pass; flows and the tunnel next
/// hop are visible in the agents' views.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn seamless_dhcp_security_groups_and_flows() -> Result<()> {
    with_lab("a", |lab| {
        let s = seamless(lab)?;

        // Step 4: the worker's route to the VM is a labelled tunnel.
        let label = route_label(lab, WORKER, s.vrf, "192.168.1.3/32")?;
        let vif = agent(lab, COMPUTE, &["vif", "--list"])?;
        let vm_label = vif
            .as_array()
            .and_then(|v| {
                v.iter()
                    .find(|v| v["os_name"] == s.vm.host_interface.as_str())
            })
            .and_then(|v| v["label"].as_u64());
        ensure!(
            label.is_some() && label == vm_label,
            "route label {label:?}, VM vif label {vm_label:?}"
        );
        assert_tunnel_nh(lab, "MPLSoUDP")?;

        // Step 5: refused by the VM's group (the pod is not a member).
        let refused = ping(lab, "pod", "192.168.1.3", 3)?;
        ensure!(refused.none(), "pod → VM before any rule: {refused:?}");
        let flows = weft(lab, COMPUTE, &["flow", "-l"])?;
        ensure!(
            flows.contains("192.168.1.4:")
                && flows.contains("192.168.1.3:")
                && flows.contains("Action:D"),
            "the refused flow is listed as a drop:\n{flows}"
        );
        ensure!(
            drops(lab, COMPUTE, "flow_denied")? > 0,
            "no FlowDenied drop counted"
        );
        // VM → pod works at once: the pod's project admits everyone.
        let vm_to_pod = ping(lab, "vm", "192.168.1.4", 3)?;
        ensure!(vm_to_pod.all(), "VM → pod: {vm_to_pod:?}");

        // Step 6a: remote CIDR 0.0.0.0/0.
        let rule = add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        let both = ping(lab, "vm", "192.168.1.4", 3)?;
        ensure!(both.all(), "VM → pod with the rule: {both:?}");
        let flows = weft(lab, COMPUTE, &["flow", "-l"])?;
        ensure!(
            flows.contains("Action:F") && flows.contains(" 1 ("),
            "admitted ICMP flows are listed as forwarded:\n{flows}"
        );
        let listed = agent(lab, COMPUTE, &["flow", "-l"])?;
        let forwarded = listed.as_array().context("flows")?.iter().any(|f| {
            f["src"] == "192.168.1.4"
                && f["dst"] == "192.168.1.3"
                && f["protocol"] == 1
                && f["action"] == "Forward"
                && f["packets"].as_u64().unwrap_or(0) > 0
        });
        ensure!(
            forwarded,
            "no forwarded pod → VM ICMP flow with packets: {listed}"
        );

        // Without it, refused again; step 6b: remote group = the pod's group.
        weft(lab, CONTROL, &["sg", "rule", "delete", &rule])?;
        wait_for("the CIDR rule to go", Duration::from_secs(10), || {
            ping(lab, "pod", "192.168.1.3", 2).is_ok_and(|r| r.none())
        })?;
        add_ingress(lab, VM_SG, &["--remote-group", POD_SG])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        let back = ping(lab, "vm", "192.168.1.4", 3)?;
        ensure!(back.all(), "VM → pod with the group rule: {back:?}");
        Ok(())
    })
}

/// A Kubernetes-style service without kube-proxy: an address held by a port
/// of a service network, a load balancer whose backend is the VM's web
/// server, and the pod fetching a page from the service address. The
/// pod's vRouter picks the backend and rewrites the connection both ways;
/// with no backend left, connections are refused and counted.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn a_pod_reaches_a_vm_through_a_service_address() -> Result<()> {
    with_lab("l", |lab| {
        seamless(lab)?;
        add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])?;
        let site = tempfile::tempdir()?;
        std::fs::write(site.path().join("index.html"), "served by the VM\n")?;
        let mut httpd = lab
            .exec("vm", "busybox")?
            .args(["httpd", "-f", "-p", "8080", "-h"])
            .arg(site.path())
            .spawn()?;
        let result = (|| -> Result<()> {
            weft(lab, CONTROL, &["project", "create", "k8s-default"])?;
            let service_net = "default-domain:k8s-default:k8s-default-service-network";
            weft(
                lab,
                CONTROL,
                &["vn", "create", service_net, "--subnet", "10.96.0.0/12"],
            )?;
            let vip = create_port(
                lab,
                &[
                    "--vn",
                    service_net,
                    "--name",
                    "web",
                    "--project",
                    "k8s-default",
                ],
            )?;
            let lb = api(
                lab,
                &[
                    "lb",
                    "create",
                    "default-domain:k8s-seamless:web",
                    "--vip-port",
                    &vip.id,
                    "--client-network",
                    VN,
                    "--listener",
                    "tcp:80=192.168.1.3:8080",
                ],
            )?;
            ensure!(lb["vip_address"] == "10.96.0.3", "{lb}");
            let url = "http://10.96.0.3/index.html";
            let fetch = |lab: &Lab| -> Result<String> {
                let out = lab
                    .exec("pod", "curl")?
                    .args(["-s", "-m", "2", url])
                    .output()?;
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            };
            wait_for(
                "the page through the service address",
                Duration::from_secs(20),
                || fetch(lab).is_ok_and(|page| page == "served by the VM\n"),
            )?;
            // The flow is keyed on the backend: that is what the groups saw.
            let flows = agent(lab, WORKER, &["flow", "-l"])?;
            let to_backend = flows.as_array().context("flows")?.iter().any(|f| {
                f["src"] == "192.168.1.4" && f["dst"] == "192.168.1.3" && f["dst_port"] == 8080
            });
            ensure!(to_backend, "no pod → 192.168.1.3:8080 flow: {flows}");

            // All listeners gone, then the port back without backends.
            for change in [&["--no-listeners"][..], &["--listener", "tcp:80"][..]] {
                let mut args = vec!["lb", "update", "default-domain:k8s-seamless:web"];
                args.extend_from_slice(change);
                weft(lab, CONTROL, &args)?;
            }
            wait_for("connections to be refused", Duration::from_secs(20), || {
                fetch(lab).is_ok_and(|page| page.is_empty())
                    && drops(lab, WORKER, "no_backend").is_ok_and(|n| n > 0)
            })?;
            Ok(())
        })();
        let _ = httpd.kill();
        let _ = httpd.wait();
        result
    })
}

/// On k8s-worker, a Tunnel next hop to os-compute whose flags show `encap`.
fn assert_tunnel_nh(lab: &Lab, encap: &str) -> Result<()> {
    let mut last = String::new();
    wait_for(
        &format!("a {encap} tunnel next hop on {WORKER}"),
        Duration::from_secs(10),
        || {
            last = weft(lab, WORKER, &["nh", "--list"]).unwrap_or_default();
            last.split("Id:").any(|nh| {
                nh.contains("Type:Tunnel")
                    && nh.contains(&format!("Flags:Valid, {encap}"))
                    && nh.contains("Sip:192.168.200.14 Dip:192.168.200.13")
            })
        },
    )
    .with_context(|| format!("weft nh --list on {WORKER}:\n{last}"))
}

/// The label a node gave its local port (its vif's label).
fn vif_label(lab: &Lab, host: &str, interface: &str) -> Result<u64> {
    let vifs = agent(lab, host, &["vif", "--list"])?;
    vifs.as_array()
        .and_then(|v| v.iter().find(|v| v["os_name"] == interface))
        .and_then(|v| v["label"].as_u64())
        .with_context(|| format!("no labelled vif {interface} on {host}: {vifs}"))
}

/// The same pod ⇄ VM ping in each encapsulation the global priority can
/// select, checked on the fabric bridge with tshark (UDP 6635 decoded as
/// MPLS with the destination's label, GRE carrying MPLS, VXLAN 4789 with
/// the VN's VNI) and in the worker's next hop.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn every_encapsulation_on_the_wire() -> Result<()> {
    with_lab("b", |lab| {
        let s = seamless(lab)?;
        add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        // A second pod on the worker, so labels differ per destination.
        let (port2, pod2) = pod_stand_in(
            lab,
            "pod2",
            &["--vn", VN, "--name", "cont2", "--project", "k8s-seamless"],
            "192.168.1.1",
        )?;
        ping_until_ok(lab, "vm", &port2.ip.to_string())?;
        let vm_label = vif_label(lab, COMPUTE, &s.vm.host_interface)?;
        let pod_label = vif_label(lab, WORKER, &s.pod.host_interface)?;
        let pod2_label = vif_label(lab, WORKER, &pod2.host_interface)?;
        ensure!(pod_label != pod2_label, "two ports with label {pod_label}");
        // Routed traffic takes the first MPLS encapsulation of the list
        // (TF); VXLAN carries it only when no MPLS one is listed.
        for (priority, flag, filter) in [
            ("MPLSoUDP,MPLSoGRE,VXLAN", "MPLSoUDP", "udp port 6635"),
            ("MPLSoGRE,MPLSoUDP,VXLAN", "MPLSoGRE", "ip proto 47"),
            ("VXLAN", "Vxlan", "udp port 4789"),
        ] {
            weft(lab, CONTROL, &["global", "set", "--encap", priority])?;
            assert_tunnel_nh(lab, flag)?;
            let capture = lab.capture("fabric", "br0", filter)?;
            let there = ping(lab, "pod", "192.168.1.3", 3)?;
            let back = ping(lab, "vm", "192.168.1.4", 3)?;
            let second = ping(lab, "vm", &port2.ip.to_string(), 3)?;
            let file = capture.stop();
            ensure!(
                there.all() && back.all() && second.all(),
                "{flag}: pod → VM {there:?}, VM → pod {back:?}, VM → pod2 {second:?}"
            );
            let rows = decode(
                &file,
                "icmp",
                &[
                    "ip.proto",
                    "udp.dstport",
                    "mpls.label",
                    "vxlan.vni",
                    "ip.src",
                    "ip.dst",
                ],
            )?;
            // 3 requests and 3 replies for each of the three pings, each
            // seen once on the bridge.
            ensure!(
                rows.len() >= 18,
                "{flag}: too few overlay ICMP packets seen: {rows:?}"
            );
            let first = |c: &String| c.split(',').next().unwrap_or_default().to_owned();
            let last = |c: &String| c.rsplit(',').next().unwrap_or_default().to_owned();
            for row in &rows {
                let (outer, port, label, vni) = (first(&row[0]), first(&row[1]), &row[2], &row[3]);
                let (outer_src, inner_dst) = (first(&row[4]), last(&row[5]));
                // The underlay carries it between the two nodes.
                ensure!(
                    ["192.168.200.13", "192.168.200.14"].contains(&outer_src.as_str()),
                    "{flag}: outer source {outer_src}: {row:?}"
                );
                match flag {
                    "MPLSoUDP" => ensure!(outer == "17" && port == "6635", "{flag}: {row:?}"),
                    "MPLSoGRE" => ensure!(outer == "47" && port.is_empty(), "{flag}: {row:?}"),
                    _ => ensure!(
                        outer == "17" && port == "4789" && vni == &s.vni.to_string(),
                        "{flag}: {row:?}"
                    ),
                }
                // MPLS: the label the destination's node gave its port.
                let want = match inner_dst.as_str() {
                    "192.168.1.3" => vm_label.to_string(),
                    "192.168.1.4" => pod_label.to_string(),
                    ip if ip == port2.ip.to_string() => pod2_label.to_string(),
                    other => anyhow::bail!("{flag}: inner destination {other}: {row:?}"),
                };
                if flag == "Vxlan" {
                    ensure!(label.is_empty(), "{flag}: MPLS inside VXLAN: {row:?}");
                } else {
                    ensure!(
                        label == &want,
                        "{flag}: label {label}, expected {want}: {row:?}"
                    );
                }
            }
            eprintln!(
                "[b] {flag}: {} overlay ICMP packets on the fabric",
                rows.len()
            );
        }
        Ok(())
    })
}

/// Two projects, each with a VN on 10.10.0.0/24 across the same two
/// nodes: each VN's pods reach each other; an address that exists only in
/// the other VN is not reachable and nothing crosses over.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn vns_with_one_cidr_stay_apart() -> Result<()> {
    with_lab("c", |lab| {
        register_nodes(lab)?;
        let mut vrfs = Vec::new();
        for project in ["red", "blue"] {
            weft(lab, CONTROL, &["project", "create", project])?;
            let vn = format!("default-domain:{project}:net");
            let made = api(lab, &["vn", "create", &vn, "--subnet", "10.10.0.0/24"])?;
            vrfs.push(made["vn_id"].as_u64().context("vn_id")? as u32);
            // .3 on os-compute, .4 on k8s-worker; blue also has .5.
            let hosts: &[&str] = if project == "red" {
                &[COMPUTE, WORKER]
            } else {
                &[COMPUTE, WORKER, WORKER]
            };
            for (i, host) in hosts.iter().enumerate() {
                let name = format!("{project}{i}");
                let port = create_port(
                    lab,
                    &[
                        "--vn",
                        &vn,
                        "--name",
                        &name,
                        "--host",
                        host,
                        "--vif-type",
                        "veth",
                    ],
                )?;
                ensure!(
                    port.ip.octets()[3] as usize == 3 + i,
                    "{name} got {}",
                    port.ip
                );
                lab.add_pod(
                    host,
                    &name,
                    &port.id,
                    port.mac,
                    format!("{}/24", port.ip).parse()?,
                    Some("10.10.0.1".parse()?),
                )?;
            }
        }
        ping_until_ok(lab, "red1", "10.10.0.3")?;
        ping_until_ok(lab, "blue1", "10.10.0.3")?;
        ping_until_ok(lab, "blue0", "10.10.0.5")?;

        let watch = lab.capture("blue2", "eth0", "icmp")?;
        let before = drops(lab, WORKER, "arp_no_route")? + drops(lab, WORKER, "no_route")?;
        let crossed = ping(lab, "red1", "10.10.0.5", 3)?;
        let file = watch.stop();
        ensure!(crossed.none(), "red reached blue's 10.10.0.5: {crossed:?}");
        let seen = decode(&file, "icmp", &["ip.src", "ip.dst"])?;
        ensure!(seen.is_empty(), "blue's .5 saw ICMP from red: {seen:?}");
        let after = drops(lab, WORKER, "arp_no_route")? + drops(lab, WORKER, "no_route")?;
        ensure!(
            after > before,
            "no ArpNoRoute/NoRoute drop for red's ping to .5"
        );
        // Same addresses, each VN its own answers: red's .3 and blue's .3
        // are different stand-ins.
        let red = lab.capture("red0", "eth0", "icmp")?;
        let blue = ping(lab, "blue1", "10.10.0.3", 3)?;
        let file = red.stop();
        ensure!(blue.all(), "blue1 → blue's .3: {blue:?}");
        let seen = decode(&file, "icmp", &["ip.src", "ip.dst"])?;
        ensure!(seen.is_empty(), "red's .3 saw blue's pings: {seen:?}");
        ensure!(vrfs[0] != vrfs[1], "both VNs in VRF {}", vrfs[0]);
        Ok(())
    })
}

/// Port security: a spoofed source IP or MAC is dropped at the sending
/// vRouter (counted, nothing arrives); an allowed address pair lets the
/// address through.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn spoofed_sources_are_dropped_unless_allowed() -> Result<()> {
    with_lab("d", |lab| {
        let s = seamless(lab)?;
        add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        let ip = |args: &[&str]| -> Result<()> {
            let out = lab.exec("pod", "ip")?.args(args).output()?;
            ensure!(out.status.success(), "ip {}: {:?}", args.join(" "), out);
            Ok(())
        };

        // A source address that is not the pod's.
        ip(&["addr", "add", "192.168.1.50/32", "dev", "eth0"])?;
        let spoofed_before = drops(lab, WORKER, "spoofed_source")?;
        let watch = lab.capture("vm", &s.vm.interface, "icmp")?;
        let spoofed = ping_with(lab, "pod", "192.168.1.3", 3, &["-I", "192.168.1.50"])?;
        let file = watch.stop();
        ensure!(spoofed.none(), "spoofed source answered: {spoofed:?}");
        let seen = decode(&file, "ip.src==192.168.1.50", &["ip.src"])?;
        ensure!(seen.is_empty(), "the VM saw the spoofed source: {seen:?}");
        let spoofed_after = drops(lab, WORKER, "spoofed_source")?;
        ensure!(
            spoofed_after >= spoofed_before + 3,
            "SpoofedSource {spoofed_before} → {spoofed_after}"
        );

        // A source MAC that is not the port's.
        ip(&["link", "set", "eth0", "address", "fa:16:3e:99:99:99"])?;
        ip(&["neigh", "flush", "dev", "eth0"])?;
        let watch = lab.capture("vm", &s.vm.interface, "icmp")?;
        let wrong_mac = ping(lab, "pod", "192.168.1.3", 3)?;
        let file = watch.stop();
        ensure!(wrong_mac.none(), "spoofed MAC answered: {wrong_mac:?}");
        let seen = decode(&file, "icmp", &["ip.src"])?;
        ensure!(
            seen.is_empty(),
            "the VM saw the spoofed MAC's pings: {seen:?}"
        );
        let mac_after = drops(lab, WORKER, "spoofed_source")?;
        ensure!(
            mac_after > spoofed_after,
            "SpoofedSource {spoofed_after} → {mac_after}"
        );
        ip(&[
            "link",
            "set",
            "eth0",
            "address",
            &s.pod_port.mac.to_string(),
        ])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;

        // The extra address as an allowed address pair.
        weft(
            lab,
            CONTROL,
            &[
                "port",
                "update",
                &s.pod_port.id,
                "--allowed-address-pair",
                "192.168.1.50",
            ],
        )?;
        let watch = lab.capture("vm", &s.vm.interface, "icmp")?;
        let mut last = None;
        let passed = wait_for("the address pair to pass", Duration::from_secs(10), || {
            let r = ping_with(lab, "pod", "192.168.1.3", 2, &["-I", "192.168.1.50"]);
            let ok = r.as_ref().is_ok_and(|r| r.all());
            last = Some(r);
            ok
        });
        let file = watch.stop();
        let seen = decode(&file, "ip.src==192.168.1.50", &["ip.src", "ip.dst"])?;
        ensure!(
            !seen.is_empty(),
            "no echo from the allowed pair reached the VM"
        );
        passed.with_context(|| format!("echo requests from the pair arrive, replies: {last:?}"))?;
        Ok(())
    })
}

/// Stateless groups for real: with the VM's port in a stateless group
/// (all egress, no ingress), the VM's echo requests reach the pod and the
/// pod answers, but nothing tracks the answers, so the VM's vRouter
/// refuses them. An ingress rule for the pod's address lets them in, and
/// with it the pod's own pings (answered through the egress rules).
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn stateless_group_admits_replies_only_by_its_rules() -> Result<()> {
    with_lab("s", |lab| {
        let s = seamless(lab)?;
        // Stateful `default`: egress alone lets the answers back.
        ping_until_ok(lab, "vm", "192.168.1.4")?;

        let raw = "default-domain:admin:raw";
        let made = api(lab, &["sg", "create", raw, "--stateless"])?;
        ensure!(made["stateful"] == false, "not stateless: {made}");
        weft(
            lab,
            CONTROL,
            &["port", "update", &s.vm_port.id, "--sg", raw],
        )?;
        wait_for(
            "the VM's answers to be refused",
            Duration::from_secs(10),
            || ping(lab, "vm", "192.168.1.4", 2).is_ok_and(|r| r.none()),
        )?;
        let denied = drops(lab, COMPUTE, "flow_denied")?;
        let watch = lab.capture("pod", &s.pod.interface, "icmp")?;
        let refused = ping(lab, "vm", "192.168.1.4", 3)?;
        let file = watch.stop();
        ensure!(refused.none(), "VM → pod answered: {refused:?}");
        let answers = decode(&file, "icmp.type==0", &["ip.src", "ip.dst"])?;
        ensure!(
            !answers.is_empty(),
            "the pod never answered, so the test proves nothing"
        );
        let denied_after = drops(lab, COMPUTE, "flow_denied")?;
        ensure!(
            denied_after >= denied + 3,
            "FlowDenied on the VM's node {denied} → {denied_after}"
        );
        // A group in use keeps its statefulness.
        let stuck = lab
            .weft(CONTROL)?
            .args(["sg", "update", raw, "--stateful", "true"])
            .output()?;
        ensure!(
            !stuck.status.success() && String::from_utf8_lossy(&stuck.stderr).contains("in use"),
            "a group in use changed its statefulness: {stuck:?}"
        );

        add_ingress(lab, raw, &["--remote-ip", "192.168.1.4/32"])?;
        ping_until_ok(lab, "vm", "192.168.1.4")?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        Ok(())
    })
}

/// Headless: the server is killed (-9) in the middle of a 10 pps ping and
/// stays away for seconds; no reply is lost. Restarted on the same data
/// dir, the agents resynchronise (a pod added afterwards is reachable)
/// and the addresses are unchanged.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn forwarding_survives_a_killed_server() -> Result<()> {
    with_lab("e", |lab| {
        let s = seamless(lab)?;
        add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        let ports_before = addresses(lab)?;

        let mut pinger = lab.exec("pod", "busybox")?;
        pinger.args(["ping", "-c", "100", "-i", "0.1", "-W", "2", "192.168.1.3"]);
        // 10 s of echoes on their own thread while the server dies and returns.
        let handle = std::thread::spawn(move || pinger.output());
        std::thread::sleep(Duration::from_secs(2));
        let pid = lab.server_pid().context("server not running")?;
        lab.kill_server();
        let gone = Instant::now();
        ensure!(lab.server_pid().is_none(), "server {pid} survived kill -9");
        std::thread::sleep(Duration::from_secs(5));
        lab.start_server()?;
        eprintln!("[e] server away for {:.1} s", gone.elapsed().as_secs_f64());
        let out = handle
            .join()
            .map_err(|_| anyhow::anyhow!("ping thread panicked"))??;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let result = ping_summary(&stdout)?;
        ensure!(
            result.sent == 100 && result.all(),
            "replies lost while headless: {result:?}, no reply to icmp_seq {:?}",
            missing_replies(&stdout, result.sent)
        );

        // Resynchronised: the same addresses, and a new pod is reachable.
        ensure!(
            addresses(lab)? == ports_before,
            "addresses changed across the restart"
        );
        let (port, _) = pod_stand_in(
            lab,
            "late",
            &["--vn", VN, "--name", "late", "--project", "k8s-seamless"],
            "192.168.1.1",
        )?;
        ping_until_ok(lab, "vm", &port.ip.to_string())?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        ensure!(s.vm_port.ip.to_string() == "192.168.1.3", "VM address");
        Ok(())
    })
}

/// The sequence numbers below `sent` that busybox ping printed no reply for.
fn missing_replies(out: &str, sent: u32) -> Vec<u32> {
    let answered: std::collections::BTreeSet<u32> = out
        .lines()
        .filter_map(|l| {
            l.split("seq=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    (0..sent).filter(|seq| !answered.contains(seq)).collect()
}

/// Port id → addresses, through the API.
fn addresses(lab: &Lab) -> Result<Vec<(String, String)>> {
    let ports = api(lab, &["port", "list"])?;
    let mut out: Vec<(String, String)> = ports
        .as_array()
        .context("port list")?
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or_default().to_owned(),
                p["fixed_ips"].to_string(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Restarting the worker's agent (SIGTERM, same state dir) re-plugs its
/// pod with the same address and the same label, and the ping works again.
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn restarted_agent_keeps_address_and_label() -> Result<()> {
    with_lab("f", |lab| {
        let s = seamless(lab)?;
        add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        let label_before = vif_label(lab, WORKER, &s.pod.host_interface)?;
        let seen_before = route_label(lab, COMPUTE, s.vrf, "192.168.1.4/32")?;
        ensure!(
            seen_before == Some(label_before),
            "os-compute has {seen_before:?} for the pod"
        );

        lab.stop_agent(WORKER);
        lab.start_agent(WORKER)?;
        wait_for("the pod's vif again", Duration::from_secs(20), || {
            vif_label(lab, WORKER, &s.pod.host_interface).is_ok()
        })?;
        let label_after = vif_label(lab, WORKER, &s.pod.host_interface)?;
        ensure!(
            label_after == label_before,
            "label {label_before} → {label_after}"
        );
        let vifs = agent(lab, WORKER, &["vif", "--list"])?;
        let pod_vif: Option<&Value> = vifs.as_array().and_then(|v| {
            v.iter()
                .find(|v| v["os_name"] == s.pod.host_interface.as_str())
        });
        ensure!(
            pod_vif.is_some_and(|v| v["addrs"].to_string().contains("192.168.1.4")),
            "pod vif after restart: {pod_vif:?}"
        );
        ping_until_ok(lab, "pod", "192.168.1.3")?;
        ping_until_ok(lab, "vm", "192.168.1.4")?;
        let seen_after = route_label(lab, COMPUTE, s.vrf, "192.168.1.4/32")?;
        ensure!(
            seen_after == Some(label_before),
            "os-compute has {seen_after:?} after the restart"
        );
        Ok(())
    })
}

/// The VM image `scripts/vm-image` built (scripts/test exports its
/// directory as WEFT_VM_IMAGE) and QEMU, or why there is none.
fn vm_image() -> std::result::Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let dir = std::env::var_os("WEFT_VM_IMAGE")
        .map(std::path::PathBuf::from)
        .ok_or("WEFT_VM_IMAGE is not set: scripts/test builds the image with scripts/vm-image")?;
    qemu::check_image(&dir).map_err(|e| e.to_string())?;
    let binary = qemu::find_qemu("qemu-system-x86_64").map_err(|e| e.to_string())?;
    Ok((dir, binary))
}

/// A real VM: QEMU (TCG) boots the project's image on the tap of a port
/// bound to os-compute, holding the tap itself as a hypervisor does (the
/// agent reaches it from the host side). The guest gets 192.168.1.3 by
/// DHCP from the agent, pings its gateway and the pod on k8s-worker, and
/// the pod reaches the VM once its group admits it. The port is ACTIVE
/// while the VM runs and DOWN once QEMU is gone.
#[test]
#[ignore = "needs root, network namespaces and QEMU: run scripts/test as root"]
fn a_qemu_vm_gets_its_address_by_dhcp_and_reaches_a_pod() -> Result<()> {
    let (image, binary) = match vm_image() {
        Ok(found) => found,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return Ok(());
        }
    };
    with_lab("q", |lab| {
        register_nodes(lab)?;
        for project in ["k8s-contrail", "admin", "k8s-seamless"] {
            weft(lab, CONTROL, &["project", "create", project])?;
        }
        api(lab, &["vn", "create", VN, "--subnet", "192.168.1.0/24"])?;
        let vm_port = create_port(
            lab,
            &[
                "--vn",
                VN,
                "--name",
                "vm",
                "--project",
                "admin",
                "--host",
                COMPUTE,
                "--vif-type",
                "tap",
                "--device-owner",
                "compute:nova",
            ],
        )?;
        let (pod_port, _) = pod_stand_in(
            lab,
            "pod",
            &["--vn", VN, "--name", "cont", "--project", "k8s-seamless"],
            "192.168.1.1",
        )?;
        ensure!(
            pod_port.ip.to_string() == "192.168.1.4",
            "pod {}",
            pod_port.ip
        );
        add_ingress(lab, POD_SG, &["--remote-ip", "0.0.0.0/0"])?;

        // The hypervisor creates and holds the tap, named as Nova names it
        // (QEMU as `weft vm boot` starts it, in the foreground here).
        let console = lab.state_dir().join("vm-console.log");
        let launch = qemu::Launch {
            qemu: binary.clone(),
            name: "vm".into(),
            uuid: uuid::Uuid::new_v4().to_string(),
            image: image.clone(),
            tap: qemu::tap_name(&vm_port.id),
            mac: vm_port.mac.to_string(),
            memory_mib: 256,
            kernel_args: "peer=192.168.1.4 linger=30".into(),
            console: qemu::Console::Stdout,
            pidfile: None,
        };
        let mut qemu = lab
            .exec(COMPUTE, &launch.qemu)?
            .args(launch.args())
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&console)?)
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let read = || std::fs::read_to_string(&console).unwrap_or_default();
        let booted = wait_for("the VM to ping the pod", Duration::from_secs(120), || {
            let log = read();
            log.contains("WEFT-VM ping-ok peer") || log.contains("WEFT-VM ping-failed peer")
        });
        let log = read();
        // Once the guest is up, the pod reaches it through the VM's group.
        let before = ping(lab, "pod", "192.168.1.3", 2);
        let after = add_ingress(lab, VM_SG, &["--remote-ip", "0.0.0.0/0"])
            .and_then(|_| ping_until_ok(lab, "pod", "192.168.1.3"));
        let running = api(lab, &["port", "show", &vm_port.id]);
        let _ = qemu.kill();
        let _ = qemu.wait();
        // The hypervisor gone, its tap goes and the port is DOWN.
        let down = wait_for("the VM port to go DOWN", Duration::from_secs(10), || {
            api(lab, &["port", "show", &vm_port.id]).is_ok_and(|p| p["status"] == "DOWN")
        });
        booted.with_context(|| format!("console:\n{log}"))?;
        ensure!(
            log.contains("WEFT-VM dhcp-ok addr=192.168.1.3/24 router=192.168.1.1"),
            "no DHCP lease for .3 in the console:\n{log}"
        );
        ensure!(
            log.contains("WEFT-VM ping-ok gateway 192.168.1.1"),
            "the gateway did not answer:\n{log}"
        );
        ensure!(
            log.contains("WEFT-VM ping-ok peer 192.168.1.4"),
            "the pod did not answer:\n{log}"
        );
        ensure!(
            before.as_ref().is_ok_and(PingResult::none),
            "pod → VM before the rule: {before:?}"
        );
        after?;
        let running = running?;
        ensure!(
            running["status"] == "ACTIVE",
            "VM port while it ran: {running}"
        );
        down?;
        Ok(())
    })
}
