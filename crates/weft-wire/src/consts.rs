//! Code points: ethertypes, IP protocol numbers, ports, message types and
//! option codes, all in one place.
//!
//! Ethertypes and protocol numbers are open newtypes rather than enums, so an
//! unknown value still round-trips through a view; `Debug` names the known ones.

use std::fmt;

macro_rules! code_point {
    ($(#[$doc:meta])* $name:ident($repr:ty) { $($(#[$cdoc:meta])* $konst:ident = $value:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $($(#[$cdoc])* pub const $konst: $name = $name($value);)*

            /// The registry name of a known value.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $($name::$konst => Some(stringify!($konst)),)*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{}::{}", stringify!($name), name),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                $name(value)
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

code_point! {
    /// An Ethernet II ethertype (IEEE registry), also GRE's protocol type.
    EtherType(u16) {
        IPV4 = 0x0800,
        ARP = 0x0806,
        /// Transparent Ethernet bridging (GRE carrying Ethernet).
        TEB = 0x6558,
        /// IEEE 802.1Q customer VLAN tag.
        VLAN = 0x8100,
        IPV6 = 0x86dd,
        /// MPLS unicast (RFC 5332).
        MPLS_UNICAST = 0x8847,
        MPLS_MULTICAST = 0x8848,
        /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
        QINQ = 0x88a8,
    }
}

code_point! {
    /// An IP protocol number / IPv6 next header value (IANA registry).
    IpProtocol(u8) {
        /// IPv6 hop-by-hop options (RFC 8200).
        HOPOPT = 0,
        ICMP = 1,
        TCP = 6,
        UDP = 17,
        /// IPv6 routing header (RFC 8200).
        IPV6_ROUTE = 43,
        /// IPv6 fragment header (RFC 8200).
        IPV6_FRAG = 44,
        GRE = 47,
        ESP = 50,
        /// Authentication header (RFC 4302).
        AH = 51,
        ICMPV6 = 58,
        /// IPv6 "no next header" (RFC 8200).
        IPV6_NONXT = 59,
        /// IPv6 destination options (RFC 8200).
        IPV6_OPTS = 60,
    }
}

code_point! {
    /// A DHCP message type, the value of option 53 (RFC 2132 §9.6).
    DhcpMessageType(u8) {
        DISCOVER = 1,
        OFFER = 2,
        REQUEST = 3,
        DECLINE = 4,
        ACK = 5,
        NAK = 6,
        RELEASE = 7,
        INFORM = 8,
    }
}

impl DhcpMessageType {
    /// The BOOTP op a message of this type travels with: BOOTREPLY for the
    /// server's OFFER, ACK and NAK, BOOTREQUEST for the rest.
    pub fn op(self) -> u8 {
        match self {
            DhcpMessageType::OFFER | DhcpMessageType::ACK | DhcpMessageType::NAK => {
                dhcp::OP_BOOTREPLY
            }
            _ => dhcp::OP_BOOTREQUEST,
        }
    }
}

/// UDP ports the data path recognises.
pub mod port {
    /// DHCP server (RFC 2131).
    pub const DHCP_SERVER: u16 = 67;
    /// DHCP client (RFC 2131).
    pub const DHCP_CLIENT: u16 = 68;
    /// VXLAN (RFC 7348).
    pub const VXLAN: u16 = 4789;
    /// MPLS over UDP (RFC 7510).
    pub const MPLS_UDP: u16 = 6635;
    /// First port of the dynamic range, where tunnel entropy source ports
    /// live (RFC 7510 §3, RFC 7348 §5).
    pub const EPHEMERAL_FIRST: u16 = 49152;
}

/// ARP hardware types, operations (RFC 826, IANA "ARP parameters").
pub mod arp {
    /// Hardware type Ethernet.
    pub const HTYPE_ETHERNET: u16 = 1;
    pub const OP_REQUEST: u16 = 1;
    pub const OP_REPLY: u16 = 2;
}

/// ICMPv4 message types and codes (RFC 792).
pub mod icmpv4 {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;

    /// Destination unreachable: network unreachable.
    pub const UNREACH_NET: u8 = 0;
    /// Destination unreachable: host unreachable.
    pub const UNREACH_HOST: u8 = 1;
    /// Destination unreachable: protocol unreachable.
    pub const UNREACH_PROTOCOL: u8 = 2;
    /// Destination unreachable: port unreachable.
    pub const UNREACH_PORT: u8 = 3;
    /// Destination unreachable: fragmentation needed and DF set (RFC 1191).
    pub const UNREACH_FRAG_NEEDED: u8 = 4;
    /// Destination unreachable: communication administratively prohibited
    /// (RFC 1812), what a security-group drop may answer with.
    pub const UNREACH_ADMIN_PROHIBITED: u8 = 13;
}

/// ICMPv6 message types (RFC 4443, RFC 4861) and neighbour discovery options.
pub mod icmpv6 {
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;

    /// NDP option: source link-layer address.
    pub const OPT_SOURCE_LLADDR: u8 = 1;
    /// NDP option: target link-layer address.
    pub const OPT_TARGET_LLADDR: u8 = 2;
}

/// DHCPv4 opcodes, message types and option codes (RFC 2131, RFC 2132).
pub mod dhcp {
    /// BOOTP op: a client's request.
    pub const OP_BOOTREQUEST: u8 = 1;
    /// BOOTP op: a server's reply.
    pub const OP_BOOTREPLY: u8 = 2;
    /// The four bytes after `file`: 99.130.83.99 (RFC 2131 §3).
    pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
    /// The broadcast bit of `flags` (RFC 2131 §2).
    pub const FLAG_BROADCAST: u16 = 0x8000;

    pub const OPT_PAD: u8 = 0;
    pub const OPT_SUBNET_MASK: u8 = 1;
    pub const OPT_ROUTER: u8 = 3;
    pub const OPT_DNS_SERVER: u8 = 6;
    pub const OPT_HOST_NAME: u8 = 12;
    pub const OPT_DOMAIN_NAME: u8 = 15;
    pub const OPT_INTERFACE_MTU: u8 = 26;
    pub const OPT_REQUESTED_IP: u8 = 50;
    pub const OPT_LEASE_TIME: u8 = 51;
    pub const OPT_OVERLOAD: u8 = 52;
    pub const OPT_MESSAGE_TYPE: u8 = 53;
    pub const OPT_SERVER_ID: u8 = 54;
    pub const OPT_PARAMETER_REQUEST_LIST: u8 = 55;
    pub const OPT_MESSAGE: u8 = 56;
    pub const OPT_MAX_MESSAGE_SIZE: u8 = 57;
    pub const OPT_RENEWAL_TIME: u8 = 58;
    pub const OPT_REBINDING_TIME: u8 = 59;
    pub const OPT_CLIENT_ID: u8 = 61;
    /// Classless static routes (RFC 3442).
    pub const OPT_CLASSLESS_STATIC_ROUTE: u8 = 121;
    pub const OPT_END: u8 = 255;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_known_values_and_shows_unknown_ones() {
        assert_eq!(format!("{:?}", EtherType::IPV4), "EtherType::IPV4");
        assert_eq!(format!("{:?}", EtherType(0x1234)), "EtherType(0x1234)");
        assert_eq!(format!("{:?}", IpProtocol(17)), "IpProtocol::UDP");
    }
}
