//! Offloads between the kernel and a userspace data path.
//!
//! A tap opened with `IFF_VNET_HDR` and a packet socket with
//! `PACKET_VNET_HDR` put a virtio-net header ([`VnetHdr`]) before every
//! frame. It lets the kernel hand over frames whose transport checksum is
//! still to be filled in (`NEEDS_CSUM`) and TCP/UDP "super-frames" of up to
//! 64 KiB that must be cut into segments of `gso_size` payload bytes before
//! they go on a wire (GSO). [`Segmenter`] does both, so everything after it
//! sees ordinary, fully checksummed frames — and one read from the kernel
//! can carry forty segments instead of one.
//!
//! [`Coalescer`] goes the other way: segments that arrive in order from a
//! tunnel are joined into one super-frame for a single write.
//!
//! The header is the legacy layout (10 bytes, host byte order), which is
//! what both interfaces use unless told otherwise.

use crate::checksum::{self, IpPair};
use crate::consts::IpProtocol;
use crate::error::{Result, WireError};
use crate::field::{array, rest, set_bytes, u8_at, u16_at, u32_at};

/// Length of the virtio-net header before each frame.
pub const VNET_HDR_LEN: usize = 10;

/// The virtio-net header (`struct virtio_net_hdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdr {
    /// [`VnetHdr::NEEDS_CSUM`], [`VnetHdr::DATA_VALID`].
    pub flags: u8,
    /// One of the `GSO_*` constants, possibly with [`VnetHdr::GSO_ECN`].
    pub gso_type: u8,
    /// Length of the headers before the GSO payload.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where the checksummed region starts (the transport header).
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// The transport checksum is partial: fill it in over `csum_start..`.
    pub const NEEDS_CSUM: u8 = 1;
    /// The checksum was verified by the sender.
    pub const DATA_VALID: u8 = 2;
    /// An ordinary frame.
    pub const GSO_NONE: u8 = 0;
    /// A TCP over IPv4 super-frame.
    pub const GSO_TCPV4: u8 = 1;
    /// UDP fragmentation offload (IP fragments; not produced by modern
    /// kernels, refused here).
    pub const GSO_UDP: u8 = 3;
    /// A TCP over IPv6 super-frame.
    pub const GSO_TCPV6: u8 = 4;
    /// A UDP super-frame cut into datagrams (`UDP_SEGMENT`).
    pub const GSO_UDP_L4: u8 = 5;
    /// The sender used ECN (CWR on the first segment only).
    pub const GSO_ECN: u8 = 0x80;

    /// An empty header: an ordinary, fully checksummed frame.
    pub const PLAIN: VnetHdr = VnetHdr {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Reads the header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<VnetHdr> {
        let bytes: [u8; VNET_HDR_LEN] = array(buf, 0).ok_or(WireError::Truncated)?;
        let word = |at: usize| array::<2>(&bytes, at).map_or(0, u16::from_ne_bytes);
        Ok(VnetHdr {
            flags: u8_at(&bytes, 0),
            gso_type: u8_at(&bytes, 1),
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        })
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut out = [0u8; VNET_HDR_LEN];
        set_bytes(&mut out, 0, &[self.flags, self.gso_type]);
        set_bytes(&mut out, 2, &self.hdr_len.to_ne_bytes());
        set_bytes(&mut out, 4, &self.gso_size.to_ne_bytes());
        set_bytes(&mut out, 6, &self.csum_start.to_ne_bytes());
        set_bytes(&mut out, 8, &self.csum_offset.to_ne_bytes());
        out
    }
}

/// Where the headers of a frame start.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Offset of the IP header (after Ethernet and at most one VLAN tag).
    l3: usize,
    /// IPv4 (`true`) or IPv6.
    v4: bool,
    /// Offset of the transport header.
    l4: usize,
}

fn layout(frame: &[u8], hdr: &VnetHdr) -> Result<Layout> {
    let mut l3 = 14;
    let mut ethertype = u16_at(frame, 12);
    if ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = u16_at(frame, 16);
        l3 = 18;
    }
    let v4 = match ethertype {
        0x0800 => true,
        0x86dd => false,
        _ => return Err(WireError::Unsupported),
    };
    let l4 = if hdr.flags & VnetHdr::NEEDS_CSUM != 0 {
        usize::from(hdr.csum_start)
    } else if v4 {
        l3 + usize::from(u8_at(frame, l3) & 0x0f) * 4
    } else {
        l3 + 40
    };
    if l4 < l3 + 20 || l4 > frame.len() {
        return Err(WireError::BadLength);
    }
    Ok(Layout { l3, v4, l4 })
}

fn ip_pair(frame: &[u8], at: &Layout) -> IpPair {
    if at.v4 {
        IpPair::V4 {
            src: crate::field::ipv4_at(frame, at.l3 + 12),
            dst: crate::field::ipv4_at(frame, at.l3 + 16),
        }
    } else {
        IpPair::V6 {
            src: crate::field::ipv6_at(frame, at.l3 + 8),
            dst: crate::field::ipv6_at(frame, at.l3 + 24),
        }
    }
}

/// Fills in a partial checksum: the field at `start + offset` holds the
/// pseudo-header sum; the result covers `start..` (as `skb_checksum_help`).
pub fn complete_checksum(frame: &mut [u8], start: usize, offset: usize) -> Result<()> {
    let field = start.checked_add(offset).ok_or(WireError::BadLength)?;
    if field.checked_add(2).is_none_or(|end| end > frame.len()) {
        return Err(WireError::BadLength);
    }
    let folded = !checksum::fold(checksum::sum(0, rest(frame, start)));
    let value = if folded == 0 { 0xffff } else { folded };
    set_bytes(frame, field, &value.to_be_bytes());
    Ok(())
}

/// Cuts super-frames into wire-sized frames and completes checksums.
/// Keeps one scratch buffer between calls.
#[derive(Debug, Clone, Default)]
pub struct Segmenter {
    scratch: Vec<u8>,
}

impl Segmenter {
    /// A segmenter with an empty scratch buffer.
    pub fn new() -> Self {
        Segmenter::default()
    }

    /// Hands every frame that `frame` (read with `hdr`) stands for to
    /// `emit`, each fully checksummed, and returns how many there were.
    /// `frame` may be modified (its checksum completed).
    pub fn resolve(
        &mut self,
        hdr: &VnetHdr,
        frame: &mut [u8],
        mut emit: impl FnMut(&[u8]),
    ) -> Result<usize> {
        match hdr.gso_type & !VnetHdr::GSO_ECN {
            VnetHdr::GSO_NONE => {
                if hdr.flags & VnetHdr::NEEDS_CSUM != 0 {
                    complete_checksum(
                        frame,
                        usize::from(hdr.csum_start),
                        usize::from(hdr.csum_offset),
                    )?;
                }
                emit(frame);
                Ok(1)
            }
            VnetHdr::GSO_TCPV4 | VnetHdr::GSO_TCPV6 => self.segment(hdr, frame, true, &mut emit),
            VnetHdr::GSO_UDP_L4 => self.segment(hdr, frame, false, &mut emit),
            _ => Err(WireError::Unsupported),
        }
    }

    fn segment(
        &mut self,
        hdr: &VnetHdr,
        frame: &[u8],
        tcp: bool,
        emit: &mut impl FnMut(&[u8]),
    ) -> Result<usize> {
        let at = layout(frame, hdr)?;
        let l4_len = if tcp {
            usize::from(u8_at(frame, at.l4 + 12) >> 4) * 4
        } else {
            8
        };
        if l4_len < if tcp { 20 } else { 8 } {
            return Err(WireError::BadLength);
        }
        let headers = at.l4 + l4_len;
        let payload = frame.get(headers..).ok_or(WireError::Truncated)?;
        let mss = usize::from(hdr.gso_size);
        if mss == 0 {
            return Err(WireError::Malformed);
        }
        let head = frame.get(..headers).ok_or(WireError::Truncated)?;
        let pair = ip_pair(frame, &at);
        let protocol = if tcp {
            IpProtocol::TCP
        } else {
            IpProtocol::UDP
        };
        let seq0 = u32_at(frame, at.l4 + 4);
        let flags0 = u8_at(frame, at.l4 + 13);
        let id0 = u16_at(frame, at.l3 + 4);
        let chunks = payload.chunks(mss);
        let count = chunks.len().max(1);
        let mut offset = 0usize;
        for (i, chunk) in chunks.enumerate() {
            let last = i + 1 == count;
            let seg = &mut self.scratch;
            seg.clear();
            seg.extend_from_slice(head);
            seg.extend_from_slice(chunk);
            let l4_total = l4_len + chunk.len();
            if at.v4 {
                let ip_len = at.l4 - at.l3 + l4_total;
                let ip_len = u16::try_from(ip_len).map_err(|_| WireError::ValueTooLarge)?;
                set_bytes(seg, at.l3 + 2, &ip_len.to_be_bytes());
                // Same as the kernel: consecutive identifications.
                let id = id0.wrapping_add(u16::try_from(i & 0xffff).unwrap_or(0));
                set_bytes(seg, at.l3 + 4, &id.to_be_bytes());
                set_bytes(seg, at.l3 + 10, &[0, 0]);
                let ihl = at.l4 - at.l3;
                let sum = checksum::checksum(seg.get(at.l3..at.l3 + ihl).unwrap_or_default());
                set_bytes(seg, at.l3 + 10, &sum.to_be_bytes());
            } else {
                let pl = at.l4 - at.l3 - 40 + l4_total;
                let pl = u16::try_from(pl).map_err(|_| WireError::ValueTooLarge)?;
                set_bytes(seg, at.l3 + 4, &pl.to_be_bytes());
            }
            let csum_at = if tcp {
                let seq = seq0.wrapping_add(u32::try_from(offset).unwrap_or(0));
                set_bytes(seg, at.l4 + 4, &seq.to_be_bytes());
                let mut flags = flags0;
                if !last {
                    // FIN and PSH belong to the last segment only.
                    flags &= !(0x01 | 0x08);
                }
                if i > 0 {
                    // CWR belongs to the first segment only.
                    flags &= !0x80;
                }
                set_bytes(seg, at.l4 + 13, &[flags]);
                at.l4 + 16
            } else {
                let len = u16::try_from(l4_total).map_err(|_| WireError::ValueTooLarge)?;
                set_bytes(seg, at.l4 + 4, &len.to_be_bytes());
                at.l4 + 6
            };
            set_bytes(seg, csum_at, &[0, 0]);
            let mut sum = pair.checksum(protocol, rest(seg, at.l4));
            if !tcp && sum == 0 {
                sum = 0xffff;
            }
            set_bytes(seg, csum_at, &sum.to_be_bytes());
            emit(seg);
            offset += chunk.len();
        }
        if payload.is_empty() {
            // A super-frame with no payload: pass the headers on as they are.
            let seg = &mut self.scratch;
            seg.clear();
            seg.extend_from_slice(head);
            if hdr.flags & VnetHdr::NEEDS_CSUM != 0 {
                complete_checksum(
                    seg,
                    usize::from(hdr.csum_start),
                    usize::from(hdr.csum_offset),
                )?;
            }
            emit(seg);
        }
        Ok(count)
    }
}

/// The reverse of [`Segmenter`] (GRO): joins consecutive in-order
/// segments of one TCP/IPv4 connection into a super-frame the kernel takes
/// in one write, with a virtio-net header saying how to cut it again.
/// Anything else passes through alone.
#[derive(Debug, Clone, Default)]
pub struct Coalescer {
    buf: Vec<u8>,
    run: Option<TcpRun>,
}

/// The super-frame being built in [`Coalescer::buf`].
#[derive(Debug, Clone, Copy)]
struct TcpRun {
    /// Offset of the TCP header and its length.
    l4: usize,
    thl: usize,
    /// Payload bytes of the first segment: every one but the last has
    /// exactly this many.
    mss: usize,
    next_seq: u32,
    segments: usize,
    /// A shorter segment or PSH ended the run.
    closed: bool,
}

/// TCP flags.
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
/// The largest IPv4 packet.
const IP_MAX: usize = 65_535;

/// Where the TCP header of a plain TCP/IPv4 frame (no IP options, not a
/// fragment) with payload and only ACK or ACK|PSH set starts, and its
/// length.
fn joinable_tcp(frame: &[u8]) -> Option<(usize, usize)> {
    if u16_at(frame, 12) != 0x0800 || u8_at(frame, 14) != 0x45 || u8_at(frame, 23) != 6 {
        return None;
    }
    // MF set or a fragment offset: not a whole packet.
    if u16_at(frame, 20) & 0x3fff != 0 {
        return None;
    }
    let l4 = 34;
    let thl = usize::from(u8_at(frame, l4 + 12) >> 4) * 4;
    let ip_len = usize::from(u16_at(frame, 16));
    let flags = u8_at(frame, l4 + 13);
    let ok = thl >= 20
        && ip_len + 14 == frame.len()
        && frame.len() > l4 + thl
        && (flags == ACK || flags == ACK | PSH);
    ok.then_some((l4, thl))
}

impl Coalescer {
    /// An empty coalescer.
    pub fn new() -> Self {
        Coalescer::default()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Adds `frame` to what is held. `false` when it cannot join: the
    /// caller takes what is held ([`Coalescer::take`]) and pushes again.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(frame);
            self.run = joinable_tcp(frame).map(|(l4, thl)| {
                let mss = frame.len() - l4 - thl;
                let flags = u8_at(frame, l4 + 13);
                TcpRun {
                    l4,
                    thl,
                    mss,
                    next_seq: u32_at(frame, l4 + 4).wrapping_add(u32::try_from(mss).unwrap_or(0)),
                    segments: 1,
                    closed: flags & PSH != 0,
                }
            });
            return true;
        }
        let Some(run) = self.run.as_mut() else {
            return false;
        };
        if run.closed || joinable_tcp(frame) != Some((run.l4, run.thl)) {
            return false;
        }
        let (l4, thl) = (run.l4, run.thl);
        let head = &self.buf;
        let same = |range: core::ops::Range<usize>| head.get(range.clone()) == frame.get(range);
        // Ethernet; TOS; DF, TTL, protocol; addresses; ports; ack; the
        // TCP options. The identification, lengths and checksums differ.
        let joins = same(0..14)
            && same(15..16)
            && same(20..24)
            && same(26..34)
            && same(l4..l4 + 4)
            && same(l4 + 8..l4 + 12)
            && same(l4 + 20..l4 + thl)
            && u32_at(frame, l4 + 4) == run.next_seq;
        let payload = frame.get(l4 + thl..).unwrap_or_default();
        if !joins || payload.len() > run.mss || head.len() - 14 + payload.len() > IP_MAX {
            return false;
        }
        let flags = u8_at(frame, l4 + 13);
        run.next_seq = run
            .next_seq
            .wrapping_add(u32::try_from(payload.len()).unwrap_or(0));
        run.segments += 1;
        run.closed = payload.len() < run.mss || flags & PSH != 0;
        if flags & PSH != 0 {
            set_bytes(&mut self.buf, l4 + 13, &[ACK | PSH]);
        }
        self.buf.extend_from_slice(payload);
        true
    }

    /// Hands what is held to `out` with its virtio-net header, and empties
    /// the coalescer. A lone frame goes with an empty header, as it was.
    pub fn take<R>(&mut self, out: impl FnOnce(&VnetHdr, &[u8]) -> R) -> Option<R> {
        if self.buf.is_empty() {
            return None;
        }
        let run = self.run.take().filter(|run| run.segments > 1);
        let hdr = match run {
            None => VnetHdr::PLAIN,
            Some(run) => {
                let buf = &mut self.buf;
                let ip_len = u16::try_from(buf.len() - 14).unwrap_or(u16::MAX);
                set_bytes(buf, 16, &ip_len.to_be_bytes());
                set_bytes(buf, 24, &[0, 0]);
                let sum = checksum::checksum(buf.get(14..34).unwrap_or_default());
                set_bytes(buf, 24, &sum.to_be_bytes());
                // As the kernel expects with NEEDS_CSUM: the checksum field
                // holds the pseudo-header sum, the rest is left to it.
                let tcp_len = u32::try_from(buf.len() - run.l4).unwrap_or(u32::MAX);
                let pair = ip_pair(
                    buf,
                    &Layout {
                        l3: 14,
                        v4: true,
                        l4: run.l4,
                    },
                );
                let pseudo = checksum::fold(pair.pseudo_header_sum(IpProtocol::TCP, tcp_len));
                set_bytes(buf, run.l4 + 16, &pseudo.to_be_bytes());
                VnetHdr {
                    flags: VnetHdr::NEEDS_CSUM,
                    gso_type: VnetHdr::GSO_TCPV4,
                    hdr_len: u16::try_from(run.l4 + run.thl).unwrap_or(0),
                    gso_size: u16::try_from(run.mss).unwrap_or(0),
                    csum_start: u16::try_from(run.l4).unwrap_or(0),
                    csum_offset: 16,
                }
            }
        };
        let result = out(&hdr, &self.buf);
        self.buf.clear();
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 4);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 3);

    /// A TCP/IPv4 frame with `payload` whose checksum field holds only the
    /// pseudo-header sum, as the kernel hands it over.
    fn partial_tcp(payload: &[u8], flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip_len = u16::try_from(40 + payload.len()).unwrap();
        f[14] = 0x45;
        f[16..18].copy_from_slice(&ip_len.to_be_bytes());
        f[18..20].copy_from_slice(&7u16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&SRC.octets());
        f[30..34].copy_from_slice(&DST.octets());
        let sum = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&sum.to_be_bytes());
        f[34..36].copy_from_slice(&40000u16.to_be_bytes());
        f[36..38].copy_from_slice(&5201u16.to_be_bytes());
        f[38..42].copy_from_slice(&1000u32.to_be_bytes());
        f[46] = 5 << 4;
        f[47] = flags;
        f[48..50].copy_from_slice(&64240u16.to_be_bytes());
        f.extend_from_slice(payload);
        let pair = IpPair::V4 { src: SRC, dst: DST };
        let tcp_len = u32::try_from(20 + payload.len()).unwrap();
        let pseudo = checksum::fold(pair.pseudo_header_sum(IpProtocol::TCP, tcp_len));
        f[50..52].copy_from_slice(&pseudo.to_be_bytes());
        f
    }

    fn partial_hdr(gso_type: u8, gso_size: u16) -> VnetHdr {
        VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            gso_type,
            hdr_len: 54,
            gso_size,
            csum_start: 34,
            csum_offset: 16,
        }
    }

    fn check_tcp(seg: &[u8]) -> (u32, u8, usize) {
        let ip = crate::Ipv4Packet::new_checked(&seg[14..]).unwrap();
        assert!(ip.verify_checksum(), "IP checksum");
        assert_eq!(usize::from(ip.total_len()), seg.len() - 14);
        let tcp = &seg[34..];
        assert!(
            IpPair::V4 { src: SRC, dst: DST }.verifies(IpProtocol::TCP, tcp),
            "TCP checksum"
        );
        (
            u32::from_be_bytes(tcp[4..8].try_into().unwrap()),
            tcp[13],
            tcp.len() - 20,
        )
    }

    #[test]
    fn header_round_trips() {
        let hdr = partial_hdr(VnetHdr::GSO_TCPV4, 1448);
        let bytes = hdr.to_bytes();
        assert_eq!(VnetHdr::parse(&bytes), Ok(hdr));
        assert_eq!(VnetHdr::parse(&bytes[..9]), Err(WireError::Truncated));
        assert_eq!(VnetHdr::PLAIN.to_bytes(), [0; VNET_HDR_LEN]);
    }

    #[test]
    fn completes_a_partial_checksum() {
        let mut frame = partial_tcp(b"hello", 0x18);
        let mut out = Vec::new();
        let n = Segmenter::new()
            .resolve(&partial_hdr(0, 0), &mut frame, |f| out.push(f.to_vec()))
            .unwrap();
        assert_eq!(n, 1);
        let (seq, flags, len) = check_tcp(&out[0]);
        assert_eq!((seq, flags, len), (1000, 0x18, 5));
    }

    #[test]
    fn cuts_a_tcp_super_frame_into_segments() {
        let payload: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
        // FIN|PSH|ACK|CWR on the super-frame.
        let mut frame = partial_tcp(&payload, 0x80 | 0x10 | 0x08 | 0x01);
        let mut out = Vec::new();
        let n = Segmenter::new()
            .resolve(&partial_hdr(VnetHdr::GSO_TCPV4, 1448), &mut frame, |f| {
                out.push(f.to_vec())
            })
            .unwrap();
        assert_eq!(n, 3);
        let segs: Vec<_> = out.iter().map(|s| check_tcp(s)).collect();
        assert_eq!(
            segs,
            vec![
                (1000, 0x80 | 0x10, 1448),
                (2448, 0x10, 1448),
                (3896, 0x10 | 0x08 | 0x01, 1104)
            ]
        );
        let joined: Vec<u8> = out.iter().flat_map(|s| s[54..].to_vec()).collect();
        assert_eq!(joined, payload);
        let ids: Vec<u16> = out
            .iter()
            .map(|s| u16::from_be_bytes([s[18], s[19]]))
            .collect();
        assert_eq!(ids, vec![7, 8, 9]);
    }

    #[test]
    fn cuts_a_udp_super_frame_into_datagrams() {
        let payload = vec![0x41u8; 2500];
        let mut frame = partial_tcp(&[], 0);
        // Make it UDP: 8-byte header at 34.
        frame.truncate(42);
        frame[23] = 17;
        frame[38..40].copy_from_slice(&0u16.to_be_bytes());
        frame.extend_from_slice(&payload);
        let hdr = VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            gso_type: VnetHdr::GSO_UDP_L4,
            hdr_len: 42,
            gso_size: 1000,
            csum_start: 34,
            csum_offset: 6,
        };
        let mut out = Vec::new();
        Segmenter::new()
            .resolve(&hdr, &mut frame, |f| out.push(f.to_vec()))
            .unwrap();
        let lens: Vec<usize> = out.iter().map(|s| s.len() - 42).collect();
        assert_eq!(lens, vec![1000, 1000, 500]);
        for seg in &out {
            let udp = &seg[34..];
            assert_eq!(usize::from(u16::from_be_bytes([udp[4], udp[5]])), udp.len());
            assert!(IpPair::V4 { src: SRC, dst: DST }.verifies(IpProtocol::UDP, udp));
        }
    }

    /// Full checksums, as frames come out of a tunnel.
    fn segments(payload: &[u8], mss: u16, flags: u8) -> Vec<Vec<u8>> {
        let mut frame = partial_tcp(payload, flags);
        let mut out = Vec::new();
        Segmenter::new()
            .resolve(&partial_hdr(VnetHdr::GSO_TCPV4, mss), &mut frame, |f| {
                out.push(f.to_vec())
            })
            .unwrap();
        out
    }

    #[test]
    fn in_order_segments_join_and_cut_back_to_the_same() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i % 241) as u8).collect();
        let segs = segments(&payload, 1400, ACK | PSH);
        assert_eq!(segs.len(), 4);
        let mut gro = Coalescer::new();
        for seg in &segs {
            assert!(gro.push(seg));
        }
        // Closed by the short, PSH-carrying last segment.
        assert!(!gro.push(&segs[0]));
        let (hdr, mut joined) = gro.take(|h, f| (*h, f.to_vec())).unwrap();
        assert!(gro.is_empty());
        assert_eq!(
            (hdr.gso_type, hdr.gso_size, hdr.csum_start, hdr.hdr_len),
            (VnetHdr::GSO_TCPV4, 1400, 34, 54)
        );
        assert_eq!(&joined[54..], &payload[..]);
        // The kernel would cut it into the very segments that came in.
        let mut again = Vec::new();
        Segmenter::new()
            .resolve(&hdr, &mut joined, |f| again.push(f.to_vec()))
            .unwrap();
        let strip_id = |s: &[u8]| {
            let mut s = s.to_vec();
            s[18..20].fill(0);
            s[24..26].fill(0);
            s
        };
        assert_eq!(
            again.iter().map(|s| strip_id(s)).collect::<Vec<_>>(),
            segs.iter().map(|s| strip_id(s)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn gaps_other_flows_and_non_tcp_do_not_join() {
        let payload = vec![7u8; 4200];
        let segs = segments(&payload, 1400, ACK);
        let mut gro = Coalescer::new();
        assert!(gro.push(&segs[0]));
        // Out of order: seq does not follow.
        assert!(!gro.push(&segs[2]));
        // Another flow (other source port).
        let mut other = segs[1].clone();
        other[34] ^= 1;
        assert!(!gro.push(&other));
        assert!(gro.push(&segs[1]));
        let lone = gro.take(|h, f| (*h, f.len())).unwrap();
        assert_eq!(lone.0.gso_type, VnetHdr::GSO_TCPV4);
        // A lone ARP frame passes as it is, with an empty header.
        let arp = [0u8; 42];
        assert!(gro.push(&arp));
        assert!(!gro.push(&arp));
        assert_eq!(gro.take(|h, f| (*h, f.len())), Some((VnetHdr::PLAIN, 42)));
        assert_eq!(gro.take(|h, _| *h), None);
    }

    #[test]
    fn refuses_what_it_cannot_cut() {
        let mut frame = partial_tcp(&[0; 100], 0x10);
        let mut seg = Segmenter::new();
        let mut hdr = partial_hdr(VnetHdr::GSO_TCPV4, 0);
        assert_eq!(
            seg.resolve(&hdr, &mut frame, |_| {}),
            Err(WireError::Malformed)
        );
        hdr.gso_size = 50;
        hdr.csum_start = 9000;
        assert_eq!(
            seg.resolve(&hdr, &mut frame, |_| {}),
            Err(WireError::BadLength)
        );
        hdr.gso_type = VnetHdr::GSO_UDP;
        assert_eq!(
            seg.resolve(&hdr, &mut frame, |_| {}),
            Err(WireError::Unsupported)
        );
        let mut short = vec![0u8; 3];
        let none = VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            csum_start: 1,
            csum_offset: 1,
            ..VnetHdr::PLAIN
        };
        assert_eq!(
            seg.resolve(&none, &mut short, |_| {}),
            Err(WireError::BadLength)
        );
    }
}
