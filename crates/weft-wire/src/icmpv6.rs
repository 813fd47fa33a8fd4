//! ICMPv6: echo (RFC 4443) and neighbour solicitation / advertisement
//! (RFC 4861), checksummed over the IPv6 pseudo-header.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Identifier          |        Sequence Number        |  echo
//! |R|S|O|                     Reserved                            |  NA (NS: reserved)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                       Target Address (NS, NA)                 +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Options ...   type (8) | length in 8 octets (8) | value ...
//! +-+-+-+-+-+-+-+-+-+-+-+-
//! ```
//!
//! The parser applies RFC 4861 §7.1's checks that need no IP context beyond
//! the addresses. The hop limit of 255 is the caller's check: it lives in
//! the IPv6 header.

use std::net::Ipv6Addr;
use std::ops::BitOr;

use weft_types::MacAddr;

use crate::checksum::IpPair;
use crate::consts::{IpProtocol, icmpv6};
use crate::field;
use crate::{Result, WireError};

mod fields {
    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: usize = 2;
    pub(super) const ECHO_IDENT: usize = 4;
    pub(super) const ECHO_SEQNO: usize = 6;
    pub(super) const NDP_FLAGS: usize = 4;
    pub(super) const TARGET: usize = 8;
    pub(super) const NDP_OPTIONS: usize = 24;
}

/// Length of the ICMPv6 header (type, code, checksum and the 4-byte rest).
pub const HEADER_LEN: usize = 8;
/// Length of a neighbour solicitation or advertisement without options.
pub const NDP_LEN: usize = 24;
/// Length of a link-layer address option for Ethernet.
const LLADDR_OPTION_LEN: usize = 8;

/// The R, S and O flags of a neighbour advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighborFlags(pub u8);

impl NeighborFlags {
    pub const ROUTER: NeighborFlags = NeighborFlags(0x80);
    pub const SOLICITED: NeighborFlags = NeighborFlags(0x40);
    pub const OVERRIDE: NeighborFlags = NeighborFlags(0x20);

    pub fn contains(self, other: NeighborFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for NeighborFlags {
    type Output = NeighborFlags;

    fn bitor(self, rhs: NeighborFlags) -> NeighborFlags {
        NeighborFlags(self.0 | rhs.0)
    }
}

/// A read/write view of an ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer holding at least the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::TYPE)
    }

    pub fn msg_code(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::CODE)
    }

    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::CHECKSUM)
    }

    pub fn echo_ident(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::ECHO_IDENT)
    }

    pub fn echo_seq_no(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::ECHO_SEQNO)
    }

    /// The R, S and O flags of an advertisement.
    pub fn neighbor_flags(&self) -> NeighborFlags {
        NeighborFlags(field::u8_at(self.buffer.as_ref(), fields::NDP_FLAGS) & 0xe0)
    }

    /// The target address of a solicitation or advertisement.
    pub fn target_addr(&self) -> Ipv6Addr {
        field::ipv6_at(self.buffer.as_ref(), fields::TARGET)
    }

    /// Whether the checksum verifies under the pseudo-header of `src`, `dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        IpPair::V6 { src, dst }.verifies(IpProtocol::ICMPV6, self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv6Packet<&'a T> {
    /// The bytes after the 8-byte header (echo data).
    pub fn data(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), HEADER_LEN)
    }

    /// The neighbour discovery options after the target address.
    pub fn ndp_options(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), fields::NDP_OPTIONS)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub fn set_msg_type(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::TYPE, value);
    }

    pub fn set_msg_code(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::CODE, value);
    }

    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::CHECKSUM, value);
    }

    pub fn set_echo_ident(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::ECHO_IDENT, value);
    }

    pub fn set_echo_seq_no(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::ECHO_SEQNO, value);
    }

    /// Writes the flags and clears the reserved bits after them.
    pub fn set_neighbor_flags(&mut self, flags: NeighborFlags) {
        field::set_u32(
            self.buffer.as_mut(),
            fields::NDP_FLAGS,
            u32::from(flags.0 & 0xe0) << 24,
        );
    }

    pub fn set_target_addr(&mut self, addr: Ipv6Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::TARGET, &addr.octets());
    }

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let value = IpPair::V6 { src, dst }.checksum(IpProtocol::ICMPV6, self.buffer.as_ref());
        self.set_checksum(value);
    }
}

/// A validated ICMPv6 message of a type weft handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    NeighborSolicit {
        target_addr: Ipv6Addr,
        /// The source link-layer address option.
        lladdr: Option<MacAddr>,
    },
    NeighborAdvert {
        flags: NeighborFlags,
        target_addr: Ipv6Addr,
        /// The target link-layer address option.
        lladdr: Option<MacAddr>,
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Verifies the checksum under the IPv6 pseudo-header of `src`, `dst`
    /// and reads the message. Other types are `Unsupported`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv6Packet<&'a T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let msg_type = packet.msg_type();
        let code = packet.msg_code();
        match msg_type {
            icmpv6::ECHO_REQUEST
            | icmpv6::ECHO_REPLY
            | icmpv6::NEIGHBOR_SOLICIT
            | icmpv6::NEIGHBOR_ADVERT
                if code != 0 =>
            {
                Err(WireError::Malformed)
            }
            icmpv6::ECHO_REQUEST => Ok(Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            icmpv6::ECHO_REPLY => Ok(Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            icmpv6::NEIGHBOR_SOLICIT | icmpv6::NEIGHBOR_ADVERT => {
                if packet.buffer.as_ref().len() < NDP_LEN {
                    return Err(WireError::Truncated);
                }
                let target_addr = packet.target_addr();
                if target_addr.is_multicast() {
                    return Err(WireError::Malformed);
                }
                if msg_type == icmpv6::NEIGHBOR_SOLICIT {
                    let lladdr = find_lladdr(packet.ndp_options(), icmpv6::OPT_SOURCE_LLADDR)?;
                    // RFC 4861 §7.1.1: a DAD probe carries no source address option.
                    if src.is_unspecified() && lladdr.is_some() {
                        return Err(WireError::Malformed);
                    }
                    Ok(Icmpv6Repr::NeighborSolicit {
                        target_addr,
                        lladdr,
                    })
                } else {
                    let flags = packet.neighbor_flags();
                    // RFC 4861 §7.1.2: a multicast advertisement is unsolicited.
                    if dst.is_multicast() && flags.contains(NeighborFlags::SOLICITED) {
                        return Err(WireError::Malformed);
                    }
                    Ok(Icmpv6Repr::NeighborAdvert {
                        flags,
                        target_addr,
                        lladdr: find_lladdr(packet.ndp_options(), icmpv6::OPT_TARGET_LLADDR)?,
                    })
                }
            }
            _ => Err(WireError::Unsupported),
        }
    }

    /// The whole message length.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv6Repr::NeighborSolicit { lladdr, .. }
            | Icmpv6Repr::NeighborAdvert { lladdr, .. } => {
                NDP_LEN
                    + if lladdr.is_some() {
                        LLADDR_OPTION_LEN
                    } else {
                        0
                    }
            }
        }
    }

    /// Writes the whole message into the first `buffer_len()` bytes of the
    /// buffer, with its checksum under the pseudo-header of `src`, `dst`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv6Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<()> {
        let len = self.buffer_len();
        let message = field::slice_mut(packet.buffer.as_mut(), 0..len);
        if message.len() != len {
            return Err(WireError::BufferTooSmall);
        }
        let mut message = Icmpv6Packet::new_unchecked(message);
        message.set_msg_code(0);
        match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let msg_type = if matches!(self, Icmpv6Repr::EchoRequest { .. }) {
                    icmpv6::ECHO_REQUEST
                } else {
                    icmpv6::ECHO_REPLY
                };
                message.set_msg_type(msg_type);
                message.set_echo_ident(ident);
                message.set_echo_seq_no(seq_no);
                field::set_bytes(message.buffer, HEADER_LEN, data);
            }
            Icmpv6Repr::NeighborSolicit {
                target_addr,
                lladdr,
            } => {
                message.set_msg_type(icmpv6::NEIGHBOR_SOLICIT);
                message.set_neighbor_flags(NeighborFlags(0));
                message.set_target_addr(target_addr);
                emit_lladdr(message.buffer, icmpv6::OPT_SOURCE_LLADDR, lladdr);
            }
            Icmpv6Repr::NeighborAdvert {
                flags,
                target_addr,
                lladdr,
            } => {
                message.set_msg_type(icmpv6::NEIGHBOR_ADVERT);
                message.set_neighbor_flags(flags);
                message.set_target_addr(target_addr);
                emit_lladdr(message.buffer, icmpv6::OPT_TARGET_LLADDR, lladdr);
            }
        }
        message.fill_checksum(src, dst);
        Ok(())
    }

    /// The reply to an echo request. `None` for anything else.
    pub fn echo_reply(&self) -> Option<Icmpv6Repr<'a>> {
        match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => Some(Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            }),
            _ => None,
        }
    }

    /// The advertisement a proxy owning `mac` sends for this solicitation's
    /// target: solicited, override, and router if `router`. Send it to the
    /// solicitation's source; a DAD probe (unspecified source) is the
    /// caller's to answer or not (RFC 4861 §7.2.4). `None` for anything but
    /// a solicitation.
    pub fn proxy_advert(&self, mac: MacAddr, router: bool) -> Option<Icmpv6Repr<'a>> {
        match *self {
            Icmpv6Repr::NeighborSolicit { target_addr, .. } => {
                let mut flags = NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE;
                if router {
                    flags = flags | NeighborFlags::ROUTER;
                }
                Some(Icmpv6Repr::NeighborAdvert {
                    flags,
                    target_addr,
                    lladdr: Some(mac),
                })
            }
            _ => None,
        }
    }
}

/// The first Ethernet link-layer address option of `kind`. Other options are
/// skipped; a zero length is `BadLength` and an overrun `Truncated`
/// (RFC 4861 §4.6).
fn find_lladdr(mut options: &[u8], kind: u8) -> Result<Option<MacAddr>> {
    let mut found = None;
    while !options.is_empty() {
        let [option_type, units] = field::array::<2>(options, 0).ok_or(WireError::Truncated)?;
        let len = usize::from(units) * 8;
        if len == 0 {
            return Err(WireError::BadLength);
        }
        let option = options.get(..len).ok_or(WireError::Truncated)?;
        if option_type == kind && len == LLADDR_OPTION_LEN && found.is_none() {
            found = Some(field::mac_at(option, 2));
        }
        options = field::rest(options, len);
    }
    Ok(found)
}

fn emit_lladdr(buf: &mut [u8], kind: u8, lladdr: Option<MacAddr>) {
    if let Some(mac) = lladdr {
        field::set_bytes(buf, fields::NDP_OPTIONS, &[kind, 1]);
        field::set_bytes(buf, fields::NDP_OPTIONS + 2, &mac.0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ethernet::tests::arb_mac;
    use proptest::prelude::*;

    const VM: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0xf816, 0x3eff, 0xfe00, 3);
    const GATEWAY: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    /// The solicited-node multicast address of GATEWAY.
    const SOLICITED_NODE: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 1);

    /// A VM (fa:16:3e:00:00:03) resolving its gateway fd00::1, generated
    /// with scapy 2.8.0: `ICMPv6ND_NS(tgt='fd00::1') /
    /// ICMPv6NDOptSrcLLAddr(lladdr='fa:16:3e:00:00:03')` under
    /// `IPv6(src=VM, dst='ff02::1:ff00:1', hlim=255)`.
    const SOLICIT: [u8; 32] = [
        0x87, 0x00, 0x10, 0xe7, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0xfa, 0x16, 0x3e, 0x00,
        0x00, 0x03,
    ];

    /// The vRouter's proxy answer (00:00:5e:00:01:00, S and O set, R set),
    /// scapy 2.8.0: `ICMPv6ND_NA(tgt='fd00::1', R=1, S=1, O=1) /
    /// ICMPv6NDOptDstLLAddr(lladdr='00:00:5e:00:01:00')` under
    /// `IPv6(src='fd00::1', dst=VM)`.
    const ADVERT: [u8; 32] = [
        0x88, 0x00, 0x09, 0x04, 0xe0, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x00, 0x00, 0x5e, 0x00,
        0x01, 0x00,
    ];

    fn emit(repr: &Icmpv6Repr<'_>, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), src, dst)
            .unwrap();
        out
    }

    #[test]
    fn solicitation_gets_a_byte_exact_proxy_advert() {
        let packet = Icmpv6Packet::new_checked(&SOLICIT[..]).unwrap();
        let repr = Icmpv6Repr::parse(&packet, VM, SOLICITED_NODE).unwrap();
        assert_eq!(
            repr,
            Icmpv6Repr::NeighborSolicit {
                target_addr: GATEWAY,
                lladdr: Some(MacAddr([0xfa, 0x16, 0x3e, 0, 0, 3]))
            }
        );
        assert_eq!(emit(&repr, VM, SOLICITED_NODE), SOLICIT);
        let advert = repr
            .proxy_advert(MacAddr([0, 0, 0x5e, 0, 1, 0]), true)
            .unwrap();
        assert_eq!(emit(&advert, GATEWAY, VM), ADVERT);
        let parsed = Icmpv6Repr::parse(
            &Icmpv6Packet::new_checked(&ADVERT[..]).unwrap(),
            GATEWAY,
            VM,
        )
        .unwrap();
        assert_eq!(parsed, advert);
    }

    #[test]
    fn echo_round_trips_with_pseudo_header() {
        // scapy 2.8.0: ICMPv6EchoRequest(id=0x1234, seq=7, data=b'weft')
        // under IPv6(src=VM, dst='fd00::1').
        let echo = [
            0x80, 0x00, 0x5f, 0x07, 0x12, 0x34, 0x00, 0x07, 0x77, 0x65, 0x66, 0x74,
        ];
        let repr =
            Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&echo[..]).unwrap(), VM, GATEWAY).unwrap();
        assert_eq!(
            repr,
            Icmpv6Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 7,
                data: b"weft"
            }
        );
        assert_eq!(emit(&repr, VM, GATEWAY), echo);
        // Swapping the addresses leaves the pseudo-header sum unchanged (it
        // is commutative), but another address breaks it.
        assert_eq!(
            Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&echo[..]).unwrap(), VM, VM),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn rfc4861_validity_checks() {
        let repr = |bytes: &[u8], src, dst| {
            Icmpv6Repr::parse(&Icmpv6Packet::new_checked(bytes).unwrap(), src, dst).map(|_| ())
        };
        let fix = |mut bytes: [u8; 32], src, dst| {
            Icmpv6Packet::new_unchecked(&mut bytes[..]).fill_checksum(src, dst);
            bytes
        };
        // A DAD probe with a source link-layer option.
        let dad = fix(SOLICIT, Ipv6Addr::UNSPECIFIED, SOLICITED_NODE);
        assert_eq!(
            repr(&dad, Ipv6Addr::UNSPECIFIED, SOLICITED_NODE),
            Err(WireError::Malformed)
        );
        let mut probe = dad[..24].to_vec();
        Icmpv6Packet::new_unchecked(&mut probe[..])
            .fill_checksum(Ipv6Addr::UNSPECIFIED, SOLICITED_NODE);
        assert_eq!(repr(&probe, Ipv6Addr::UNSPECIFIED, SOLICITED_NODE), Ok(()));
        // An option of length zero.
        let mut zero = SOLICIT;
        zero[25] = 0;
        let zero = fix(zero, VM, SOLICITED_NODE);
        assert_eq!(repr(&zero, VM, SOLICITED_NODE), Err(WireError::BadLength));
        // An option running past the end.
        let mut long = SOLICIT;
        long[25] = 2;
        let long = fix(long, VM, SOLICITED_NODE);
        assert_eq!(repr(&long, VM, SOLICITED_NODE), Err(WireError::Truncated));
        // A solicited advertisement to a multicast group.
        let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        let multicast = fix(ADVERT, GATEWAY, all_nodes);
        assert_eq!(
            repr(&multicast, GATEWAY, all_nodes),
            Err(WireError::Malformed)
        );
        // A nonzero code.
        let mut code = SOLICIT;
        code[1] = 1;
        let code = fix(code, VM, SOLICITED_NODE);
        assert_eq!(repr(&code, VM, SOLICITED_NODE), Err(WireError::Malformed));
        // Too short for a target address.
        let mut short = [0x87u8, 0, 0, 0, 0, 0, 0, 0];
        Icmpv6Packet::new_unchecked(&mut short[..]).fill_checksum(VM, SOLICITED_NODE);
        assert_eq!(repr(&short, VM, SOLICITED_NODE), Err(WireError::Truncated));
    }

    #[allow(clippy::too_many_arguments)]
    fn build<'a>(
        data: &'a [u8],
        kind: u8,
        ident: u16,
        seq_no: u16,
        flags: u8,
        target_addr: Ipv6Addr,
        lladdr: Option<MacAddr>,
    ) -> Icmpv6Repr<'a> {
        match kind {
            0 => Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            },
            1 => Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            },
            2 => Icmpv6Repr::NeighborSolicit {
                target_addr,
                lladdr,
            },
            _ => Icmpv6Repr::NeighborAdvert {
                flags: NeighborFlags(flags << 5),
                target_addr,
                lladdr,
            },
        }
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            kind in 0u8..4,
            ident in any::<u16>(),
            seq_no in any::<u16>(),
            flags in 0u8..8,
            target in any::<[u8; 16]>().prop_map(Ipv6Addr::from).prop_filter("unicast", |a| !a.is_multicast()),
            lladdr in proptest::option::of(arb_mac()),
            src in any::<[u8; 16]>().prop_map(Ipv6Addr::from).prop_filter("specified", |a| !a.is_unspecified()),
            dst in any::<[u8; 16]>().prop_map(Ipv6Addr::from).prop_filter("unicast", |a| !a.is_multicast()),
        ) {
            let repr = build(&data, kind, ident, seq_no, flags, target, lladdr);
            let out = emit(&repr, src, dst);
            let packet = Icmpv6Packet::new_checked(&out[..]).unwrap();
            prop_assert_eq!(Icmpv6Repr::parse(&packet, src, dst).unwrap(), repr);
        }
    }
}
