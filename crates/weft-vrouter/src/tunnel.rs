//! Overlay tunnel payloads: what the engine hands the agent to send over
//! the underlay and what it accepts back.
//!
//! The agent owns the underlay sockets (UDP 6635, UDP 4789, raw IP proto
//! 47), so the kernel writes the outer IPv4 (and UDP) headers; the engine
//! deals in the rest:
//!
//! ```text
//! MPLSoUDP (UDP payload):  | MPLS (S=1) | inner IP packet |
//! MPLSoGRE (IP payload):   | GRE 0x8847 | MPLS (S=1) | inner IP packet |
//! VXLAN    (UDP payload):  | VXLAN | inner Ethernet frame |
//! ```

use serde::{Deserialize, Serialize};
use weft_types::{MplsLabel, Vni};
use weft_wire::{
    EtherType, GrePacket, GreRepr, MplsPacket, MplsRepr, MplsStack, VxlanPacket, VxlanRepr, gre,
    mpls, vxlan,
};

use crate::nexthop::Encapsulation;
use crate::stats::DropReason;

/// Which underlay socket a payload arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelKind {
    /// UDP port 6635.
    MplsOverUdp,
    /// IP protocol 47.
    MplsOverGre,
    /// UDP port 4789.
    Vxlan,
}

/// How to send an underlay payload: the socket and the UDP source port
/// (entropy from the inner flow's hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnderlayKind {
    MplsOverUdp { src_port: u16 },
    MplsOverGre,
    Vxlan { src_port: u16 },
}

impl UnderlayKind {
    /// The socket the receiving side reads it from.
    pub fn tunnel_kind(self) -> TunnelKind {
        match self {
            UnderlayKind::MplsOverUdp { .. } => TunnelKind::MplsOverUdp,
            UnderlayKind::MplsOverGre => TunnelKind::MplsOverGre,
            UnderlayKind::Vxlan { .. } => TunnelKind::Vxlan,
        }
    }
}

/// The first encapsulation in `priority` the remote supports, for routed
/// traffic: MPLS ones first (TF), VXLAN only when no MPLS one is shared.
pub(crate) fn choose(
    priority: &[Encapsulation],
    remote: &[Encapsulation],
) -> Option<Encapsulation> {
    let shared = || priority.iter().copied().filter(|e| remote.contains(e));
    shared()
        .find(|e| e.is_mpls())
        .or_else(|| shared().find(|e| *e == Encapsulation::Vxlan))
}

fn label_entry(label: MplsLabel, ttl: u8) -> Result<[u8; mpls::ENTRY_LEN], DropReason> {
    let mut entry = [0u8; mpls::ENTRY_LEN];
    MplsRepr {
        label: label.get(),
        traffic_class: 0,
        bottom_of_stack: true,
        ttl,
    }
    .emit(&mut MplsPacket::new_unchecked(&mut entry[..]))
    .map_err(|_| DropReason::EmitFailed)?;
    Ok(entry)
}

/// An MPLSoUDP payload: the label, then the inner IP packet.
pub(crate) fn mpls_over_udp(
    label: MplsLabel,
    ttl: u8,
    inner: &[u8],
) -> Result<Vec<u8>, DropReason> {
    let mut payload = Vec::with_capacity(mpls::ENTRY_LEN.saturating_add(inner.len()));
    payload.extend_from_slice(&label_entry(label, ttl)?);
    payload.extend_from_slice(inner);
    Ok(payload)
}

/// An MPLSoGRE payload: GRE (no checksum, key or sequence), the label, the
/// inner IP packet.
pub(crate) fn mpls_over_gre(
    label: MplsLabel,
    ttl: u8,
    inner: &[u8],
) -> Result<Vec<u8>, DropReason> {
    let mut header = [0u8; gre::HEADER_LEN];
    GreRepr {
        protocol: EtherType::MPLS_UNICAST,
        checksum: false,
        key: None,
        sequence: None,
    }
    .emit(&mut GrePacket::new_unchecked(&mut header[..]))
    .map_err(|_| DropReason::EmitFailed)?;
    let mut payload = Vec::with_capacity(gre::HEADER_LEN + mpls::ENTRY_LEN + inner.len());
    payload.extend_from_slice(&header);
    payload.extend_from_slice(&label_entry(label, ttl)?);
    payload.extend_from_slice(inner);
    Ok(payload)
}

/// A VXLAN payload: the header, then the inner Ethernet frame.
pub(crate) fn vxlan(vni: Vni, inner_frame: &[u8]) -> Result<Vec<u8>, DropReason> {
    let mut payload = vec![0u8; vxlan::HEADER_LEN];
    VxlanRepr { vni: vni.get() }
        .emit(&mut VxlanPacket::new_unchecked(&mut payload[..]))
        .map_err(|_| DropReason::EmitFailed)?;
    payload.extend_from_slice(inner_frame);
    Ok(payload)
}

/// A received payload, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decapsulated<'a> {
    /// An MPLS tunnel: the label and the inner IP packet.
    Label(MplsLabel, &'a [u8]),
    /// VXLAN: the VNI and the inner Ethernet frame.
    Vni(Vni, &'a [u8]),
}

pub(crate) fn decapsulate(
    kind: TunnelKind,
    payload: &[u8],
) -> Result<Decapsulated<'_>, DropReason> {
    match kind {
        TunnelKind::MplsOverUdp => single_label(payload),
        TunnelKind::MplsOverGre => {
            let packet = GrePacket::new_checked(payload)?;
            let repr = GreRepr::parse(&packet)?;
            if repr.protocol != EtherType::MPLS_UNICAST {
                return Err(DropReason::Unsupported);
            }
            single_label(packet.payload())
        }
        TunnelKind::Vxlan => {
            let packet = VxlanPacket::new_checked(payload)?;
            let repr = VxlanRepr::parse(&packet)?;
            let vni = Vni::new(repr.vni).map_err(|_| DropReason::UnknownVni)?;
            Ok(Decapsulated::Vni(vni, packet.payload()))
        }
    }
}

/// TF puts one label on the stack; a deeper stack is not ours.
fn single_label(stack: &[u8]) -> Result<Decapsulated<'_>, DropReason> {
    let mut entries = MplsStack::new(stack);
    let first = entries.next().ok_or(DropReason::Malformed)??;
    if !first.bottom_of_stack {
        return Err(DropReason::Unsupported);
    }
    let label = MplsLabel::new(first.label).map_err(|_| DropReason::UnknownLabel)?;
    Ok(Decapsulated::Label(label, entries.remainder()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use Encapsulation::*;

    #[test]
    fn routed_traffic_prefers_mpls() {
        let all = [MplsOverUdp, MplsOverGre, Vxlan];
        assert_eq!(choose(&all, &all), Some(MplsOverUdp));
        assert_eq!(choose(&[Vxlan, MplsOverGre], &all), Some(MplsOverGre));
        assert_eq!(choose(&all, &[MplsOverGre, Vxlan]), Some(MplsOverGre));
        assert_eq!(choose(&all, &[Vxlan]), Some(Vxlan));
        assert_eq!(choose(&[Vxlan], &all), Some(Vxlan));
        assert_eq!(choose(&[MplsOverUdp], &[Vxlan]), None);
    }

    #[test]
    fn payloads_round_trip() {
        let label = MplsLabel::new(25).unwrap();
        let inner = [0x45u8, 1, 2, 3];
        let udp = mpls_over_udp(label, 63, &inner).unwrap();
        assert_eq!(udp, [0x00, 0x01, 0x91, 63, 0x45, 1, 2, 3]);
        assert_eq!(
            decapsulate(TunnelKind::MplsOverUdp, &udp),
            Ok(Decapsulated::Label(label, &inner[..]))
        );
        let gre = mpls_over_gre(label, 63, &inner).unwrap();
        assert_eq!(&gre[..4], &[0, 0, 0x88, 0x47]);
        assert_eq!(
            decapsulate(TunnelKind::MplsOverGre, &gre),
            Ok(Decapsulated::Label(label, &inner[..]))
        );
        let vni = Vni::new(5).unwrap();
        let vx = vxlan(vni, &inner).unwrap();
        assert_eq!(&vx[..8], &[0x08, 0, 0, 0, 0, 0, 5, 0]);
        assert_eq!(
            decapsulate(TunnelKind::Vxlan, &vx),
            Ok(Decapsulated::Vni(vni, &inner[..]))
        );
    }

    #[test]
    fn refuses_reserved_labels_and_short_input() {
        let reserved = [0x00, 0x00, 0x31, 64, 0x45];
        assert_eq!(
            decapsulate(TunnelKind::MplsOverUdp, &reserved),
            Err(DropReason::UnknownLabel)
        );
        assert_eq!(
            decapsulate(TunnelKind::MplsOverUdp, &[0]),
            Err(DropReason::Malformed)
        );
        assert!(decapsulate(TunnelKind::Vxlan, &[0x08, 0, 0]).is_err());
        assert!(decapsulate(TunnelKind::MplsOverGre, &[]).is_err());
    }
}
