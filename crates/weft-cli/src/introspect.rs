//! `weft vif`, `rt`, `nh`, `flow`, `dropstats`: the local agent's forwarding
//! tables, printed the way TF's vRouter tools print them.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;
use weft_vrouter::{
    DropStats, FlowAction, FlowView, NextHopView, NhFlag, NhType, RouteView, VifKind, VifView,
};

use crate::args::{DropstatsArgs, FlowArgs, Format, NhArgs, RtArgs, VifArgs};
use crate::output;

async fn fetch<T: DeserializeOwned>(agent: &str, path: &str) -> anyhow::Result<T> {
    let url = format!("{}{path}", agent.trim_end_matches('/'));
    let response = reqwest::get(&url)
        .await
        .with_context(|| format!("cannot reach the weft agent at {agent}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("{url}: {status}: {body}");
    }
    response
        .json()
        .await
        .with_context(|| format!("{url}: unexpected answer"))
}

fn print<T: serde::Serialize + ?Sized>(format: Format, value: &T, text: String) {
    match format {
        Format::Json => output::json(value),
        Format::Table => output::text(&text),
    }
}

pub(crate) async fn vif(format: Format, args: VifArgs) -> anyhow::Result<()> {
    match args.get {
        Some(id) => {
            let vif: VifView = fetch(&args.url.agent, &format!("/vifs/{id}")).await?;
            print(format, &vif, format_vif(&vif));
        }
        None => {
            let vifs: Vec<VifView> = fetch(&args.url.agent, "/vifs").await?;
            let text = vifs.iter().map(format_vif).collect::<Vec<_>>().join("\n");
            print(format, &vifs, text);
        }
    }
    Ok(())
}

pub(crate) async fn rt(format: Format, args: RtArgs) -> anyhow::Result<()> {
    match (args.dump, args.get) {
        (Some(vrf), None) => {
            let routes: Vec<RouteView> =
                fetch(&args.url.agent, &format!("/routes?vrf={vrf}")).await?;
            print(format, &routes, format_routes(vrf, &routes));
        }
        (None, Some(prefix)) => {
            let Some(vrf) = args.vrf else {
                bail!("rt --get needs --vrf");
            };
            let path = format!(
                "/routes/get?vrf={vrf}&prefix={}",
                prefix.replace('/', "%2F")
            );
            let route: RouteView = fetch(&args.url.agent, &path).await?;
            print(
                format,
                &route,
                format_routes(vrf, std::slice::from_ref(&route)),
            );
        }
        _ => bail!("give --dump <vrf>, or --get <prefix> --vrf <vrf>"),
    }
    Ok(())
}

pub(crate) async fn nh(format: Format, args: NhArgs) -> anyhow::Result<()> {
    match args.get {
        Some(id) => {
            let nh: NextHopView = fetch(&args.url.agent, &format!("/nexthops/{id}")).await?;
            print(format, &nh, format_nh(&nh));
        }
        None => {
            let nhs: Vec<NextHopView> = fetch(&args.url.agent, "/nexthops").await?;
            let text = nhs.iter().map(format_nh).collect::<Vec<_>>().join("\n");
            print(format, &nhs, text);
        }
    }
    Ok(())
}

pub(crate) async fn flow(format: Format, args: FlowArgs) -> anyhow::Result<()> {
    let flows: Vec<FlowView> = fetch(&args.url.agent, "/flows").await?;
    print(format, &flows, format_flows(&flows));
    Ok(())
}

pub(crate) async fn dropstats(format: Format, args: DropstatsArgs) -> anyhow::Result<()> {
    let stats: DropStats = fetch(&args.url.agent, "/dropstats").await?;
    print(format, &stats, format_drops(&stats));
    Ok(())
}

/// Like `vif --get`: index and OS name, type and addresses, VRF and flags, counters.
pub(crate) fn format_vif(v: &VifView) -> String {
    let mut flags = String::new();
    for (on, letter) in [
        (v.flags.policy, "P"),
        (v.flags.l3, "L3"),
        (v.flags.l2, "L2"),
        (v.flags.dhcp, "D"),
    ] {
        if on {
            flags.push_str(letter);
        }
    }
    let addrs: Vec<String> = v.addrs.iter().map(ToString::to_string).collect();
    let label = v.label.map(|l| l.to_string()).unwrap_or_else(|| "-".into());
    let kind = match v.kind {
        VifKind::Tap | VifKind::Veth => "Virtual",
        VifKind::Host => "Host",
    };
    let mut out = String::new();
    let _ = writeln!(out, "vif0/{:<6} OS: {}", v.index.0, v.os_name);
    let _ = writeln!(
        out,
        "            Type:{kind} HWaddr:{} IPaddr:{}",
        v.mac,
        addrs.join(",")
    );
    let _ = writeln!(
        out,
        "            Vrf:{} Flags:{flags} Label:{label} SGs:{:?}",
        v.vrf.0,
        v.sgs.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    let _ = writeln!(
        out,
        "            RX packets:{}  bytes:{}",
        v.rx.packets, v.rx.bytes
    );
    let _ = writeln!(
        out,
        "            TX packets:{}  bytes:{}",
        v.tx.packets, v.tx.bytes
    );
    let _ = write!(out, "            Drops:{}", v.drops);
    out
}

/// Like `rt --dump`: destination, flags, label, next hop.
pub(crate) fn format_routes(vrf: u32, routes: &[RouteView]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Flags: L=Label Valid, P=Proxy ARP");
    let _ = writeln!(out, "vRouter routing table 0/{vrf}/unicast");
    let _ = writeln!(
        out,
        "{:<44} {:<6} {:<8} {:<8}",
        "Destination", "Flags", "Label", "Nexthop"
    );
    for r in routes {
        let mut flags = String::new();
        if r.flags.label_valid {
            flags.push('L');
        }
        if r.flags.proxy_arp {
            flags.push('P');
        }
        let label = r.label.map(|l| l.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<44} {:<6} {:<8} {:<8}",
            r.prefix.to_string(),
            flags,
            label,
            r.nh.0
        );
    }
    out.trim_end().to_owned()
}

/// Like `nh --get`: id, type, flags, outgoing vif, tunnel ends.
pub(crate) fn format_nh(n: &NextHopView) -> String {
    let kind = match n.kind {
        NhType::Encap => "Encap",
        NhType::Tunnel => "Tunnel",
        NhType::Receive => "Receive",
        NhType::Discard => "Drop",
    };
    let flags: Vec<&str> = n
        .flags
        .iter()
        .map(|f| match f {
            NhFlag::Valid => "Valid",
            NhFlag::Policy => "Policy",
            NhFlag::MplsOverUdp => "MPLSoUDP",
            NhFlag::MplsOverGre => "MPLSoGRE",
            NhFlag::Vxlan => "Vxlan",
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "Id:{:<10} Type:{kind:<10} Fmly: AF_INET", n.id.0);
    let _ = write!(out, "              Flags:{}", flags.join(", "));
    if let Some(oif) = n.oif {
        let _ = write!(out, "\n              Oif:{}", oif.0);
    }
    if let (Some(sip), Some(dip)) = (n.sip, n.dip) {
        let _ = write!(out, "\n              Sip:{sip} Dip:{dip}");
    }
    if let Some(label) = n.label {
        let _ = write!(out, "\n              Label:{label}");
    }
    if let Some(vni) = n.vni {
        let _ = write!(out, " Vni:{vni}");
    }
    out
}

/// Like `flow -l`: index pairs, endpoints, protocol and VRF, action and counters.
pub(crate) fn format_flows(flows: &[FlowView]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>9}    {:<48} Proto(V)",
        "Index", "Source:Port/Destination:Port"
    );
    let _ = writeln!(out, "{}", "-".repeat(75));
    for f in flows {
        let action = match f.action {
            FlowAction::Forward => "F",
            FlowAction::Drop => "D",
        };
        let _ = writeln!(
            out,
            "{:>5}<=>{:<5} {:<48} {} ({})",
            f.index,
            f.reverse,
            format!("{}:{}", f.src, f.src_port),
            f.protocol,
            f.vrf.0
        );
        let _ = writeln!(out, "{:>14}{}:{}", "", f.dst, f.dst_port);
        let _ = writeln!(
            out,
            "(Action:{action}, Packets:{}, Bytes:{})",
            f.packets, f.bytes
        );
    }
    let _ = write!(out, "{} flows", flows.len());
    out
}

/// Like `dropstats`: one line per reason with a non-zero count.
pub(crate) fn format_drops(stats: &DropStats) -> String {
    let mut out = String::new();
    for (reason, count) in stats.iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(out, "{:<28} {count}", format!("{reason:?}"));
    }
    let _ = write!(out, "{:<28} {}", "Total", stats.total());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_vrouter::{DropReason, NhId, VrfId};

    #[test]
    fn tunnel_next_hop_shows_encapsulation_and_both_ends() {
        let nh = NextHopView {
            id: NhId(12),
            kind: NhType::Tunnel,
            flags: vec![NhFlag::Valid, NhFlag::MplsOverUdp],
            oif: None,
            sip: Some("192.168.200.14".parse().unwrap()),
            dip: Some("192.168.200.13".parse().unwrap()),
            label: Some(weft_types::MplsLabel::new(17).unwrap()),
            vni: None,
            encaps: Vec::new(),
        };
        let text = format_nh(&nh);
        assert!(text.contains("Type:Tunnel"), "{text}");
        assert!(text.contains("Flags:Valid, MPLSoUDP"), "{text}");
        assert!(
            text.contains("Sip:192.168.200.14 Dip:192.168.200.13"),
            "{text}"
        );
        // The JSON an agent serves reads back into the same view.
        let back: NextHopView = serde_json::from_str(&serde_json::to_string(&nh).unwrap()).unwrap();
        assert_eq!(back, nh);
    }

    #[test]
    fn flows_and_drops_read_like_tf() {
        let flow = FlowView {
            index: 3,
            reverse: 4,
            vrf: VrfId(1),
            src: "192.168.1.4".parse().unwrap(),
            dst: "192.168.1.3".parse().unwrap(),
            protocol: 1,
            src_port: 7,
            dst_port: 7,
            action: FlowAction::Drop,
            packets: 2,
            bytes: 168,
            initiator: true,
        };
        let text = format_flows(&[flow]);
        assert!(
            text.contains("3<=>4")
                && text.contains("192.168.1.4:7")
                && text.contains("(Action:D, Packets:2, Bytes:168)"),
            "{text}"
        );
        let mut drops = DropStats::default();
        drops.count(DropReason::FlowDenied);
        drops.count(DropReason::FlowDenied);
        let text = format_drops(&drops);
        assert!(
            text.contains("FlowDenied") && text.lines().last().unwrap().ends_with('2'),
            "{text}"
        );
    }
}
