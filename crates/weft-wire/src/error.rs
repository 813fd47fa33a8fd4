//! Why a buffer is not a packet weft accepts, or why a representation cannot
//! be written.
//!
//! Every variant maps to one drop reason the data path counts; none carries a
//! string.

/// A decoding or encoding failure. Each variant is one drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header, or than a length field, says are there.
    #[error("packet is truncated")]
    Truncated,
    /// A length field contradicts the header layout (IHL below 5, a UDP
    /// length under 8, a TCP data offset under 5, a zero-length option).
    #[error("length field is inconsistent with the header")]
    BadLength,
    /// An IP version other than the one expected, or a GRE version other than 0.
    #[error("unexpected protocol version")]
    BadVersion,
    /// A checksum does not verify.
    #[error("checksum does not verify")]
    BadChecksum,
    /// The DHCP magic cookie is not 99.130.83.99.
    #[error("DHCP magic cookie is wrong")]
    BadMagic,
    /// A field holds a value the RFC forbids (VXLAN I flag clear, a neighbour
    /// discovery code other than 0, a DHCP option of the wrong size).
    #[error("a field holds a value the protocol forbids")]
    Malformed,
    /// Well formed but outside what weft handles (ARP for another hardware
    /// type, GRE source routing, an ICMP type with no representation, BOOTP
    /// without a DHCP message type, a reserved MPLS label in a tunnel).
    #[error("protocol variant is not supported")]
    Unsupported,
    /// An IP fragment where a whole packet is needed (tunnel decapsulation).
    #[error("IP fragment where a whole packet is needed")]
    Fragment,
    /// A bounded walk (IPv6 extension headers, MPLS label stack) did not end
    /// within its bound.
    #[error("header chain exceeds its bound")]
    TooManyHeaders,
    /// A representation holds a value its wire field cannot carry (a label
    /// over 20 bits, a payload over 65535 bytes).
    #[error("value does not fit its wire field")]
    ValueTooLarge,
    /// The buffer given to `emit` is shorter than `buffer_len()`.
    #[error("buffer is too small for the packet")]
    BufferTooSmall,
}

/// Shorthand for results in this crate.
pub type Result<T> = core::result::Result<T, WireError>;
