//! Links, addresses and routes over rtnetlink.
//!
//! Messages are built with `rtnetlink`'s typed builders (netlink-packet-route
//! 0.34) and exchanged over a *synchronous* `netlink-sys` socket opened inside
//! the namespace. We skip `rtnetlink`'s async `Handle`: it needs a tokio
//! runtime and a connection task per namespace, while a netlink socket opened
//! once inside the namespace is a plain fd that works from any thread, which
//! is all the agent's reconciler needs.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use ipnet::IpNet;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTIPART, NLM_F_REQUEST,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use rtnetlink::{AddressMessageBuilder, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};
use weft_types::MacAddr;

use crate::netns::{Netns, NetnsError};

/// Errors of link handling; each names the namespace and the device.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The kernel refused a request (or the socket failed).
    #[error("netns {ns:?}: {op} {dev:?}: {source}")]
    Netlink {
        /// The namespace.
        ns: String,
        /// What was asked.
        op: &'static str,
        /// The device (or route) concerned.
        dev: String,
        /// The OS error the kernel answered with.
        #[source]
        source: io::Error,
    },
    /// No link of that name in the namespace.
    #[error("netns {ns:?}: no link named {dev:?}")]
    NotFound {
        /// The namespace.
        ns: String,
        /// The device.
        dev: String,
    },
    /// The request or reply made no sense.
    #[error("netns {ns:?}: {op} {dev:?}: {detail}")]
    Invalid {
        /// The namespace.
        ns: String,
        /// What was asked.
        op: &'static str,
        /// The device concerned.
        dev: String,
        /// What was wrong.
        detail: String,
    },
    /// Entering the namespace failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

/// What the kernel says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index (per namespace).
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Link-layer address, if it has a 6-byte one.
    pub mac: Option<MacAddr>,
    /// MTU in bytes.
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Index of the bridge (or other controller) it is enslaved to.
    pub master: Option<u32>,
}

/// An rtnetlink socket bound to one namespace. Every method acts in it.
#[derive(Debug)]
pub struct Netlink {
    ns: String,
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// Opens a route netlink socket inside `ns`.
    pub fn open(ns: &Netns) -> Result<Netlink, LinkError> {
        let name = ns.name().to_owned();
        let socket = ns
            .run(|| -> io::Result<Socket> {
                let mut s = Socket::new(NETLINK_ROUTE)?;
                s.bind_auto()?;
                s.connect(&SocketAddr::new(0, 0))?;
                Ok(s)
            })?
            .map_err(|source| LinkError::Netlink {
                ns: name.clone(),
                op: "open netlink socket",
                dev: String::new(),
                source,
            })?;
        Ok(Netlink {
            ns: name,
            socket,
            seq: 0,
        })
    }

    /// The namespace this socket acts in.
    pub fn netns(&self) -> &str {
        &self.ns
    }

    /// Looks a link up by name.
    pub fn link(&mut self, name: &str) -> Result<LinkInfo, LinkError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let replies = self
            .request(
                RouteNetlinkMessage::GetLink(msg),
                NLM_F_REQUEST,
                "get link",
                name,
            )
            .map_err(|e| match e {
                LinkError::Netlink { source, .. }
                    if source.raw_os_error() == Some(libc::ENODEV) =>
                {
                    LinkError::NotFound {
                        ns: self.ns.clone(),
                        dev: name.to_owned(),
                    }
                }
                e => e,
            })?;
        for reply in replies {
            if let RouteNetlinkMessage::NewLink(link) = reply {
                return Ok(link_info(&link));
            }
        }
        Err(LinkError::NotFound {
            ns: self.ns.clone(),
            dev: name.to_owned(),
        })
    }

    /// All links of the namespace.
    pub fn links(&mut self) -> Result<Vec<LinkInfo>, LinkError> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
            "list links",
            "*",
        )?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link_info(link)),
                _ => None,
            })
            .collect())
    }

    /// The interface index of `name`.
    pub fn ifindex(&mut self, name: &str) -> Result<u32, LinkError> {
        Ok(self.link(name)?.index)
    }

    /// The MAC address of `name`.
    pub fn mac(&mut self, name: &str) -> Result<MacAddr, LinkError> {
        self.link(name)?.mac.ok_or_else(|| LinkError::Invalid {
            ns: self.ns.clone(),
            op: "get mac",
            dev: name.to_owned(),
            detail: "the link has no Ethernet address".to_owned(),
        })
    }

    /// Creates a veth pair `name` ⇄ `peer` (both down, in this namespace).
    pub fn create_veth(&mut self, name: &str, peer: &str) -> Result<(), LinkError> {
        let msg = LinkVeth::new(name, peer).build();
        self.create(RouteNetlinkMessage::NewLink(msg), "create veth", name)
    }

    /// Creates a bridge (down).
    pub fn create_bridge(&mut self, name: &str) -> Result<(), LinkError> {
        let msg = LinkBridge::new(name).build();
        self.create(RouteNetlinkMessage::NewLink(msg), "create bridge", name)
    }

    /// Deletes a link (for a veth, its peer goes too).
    pub fn delete_link(&mut self, name: &str) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        let msg = LinkUnspec::new_with_index(index).build();
        self.ack(RouteNetlinkMessage::DelLink(msg), 0, "delete link", name)
    }

    /// Sets a link administratively up.
    pub fn set_up(&mut self, name: &str) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        self.set(
            LinkUnspec::new_with_index(index).up().build(),
            "set up",
            name,
        )
    }

    /// Sets a link administratively down.
    pub fn set_down(&mut self, name: &str) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        self.set(
            LinkUnspec::new_with_index(index).down().build(),
            "set down",
            name,
        )
    }

    /// Sets the MAC address of a link.
    pub fn set_mac(&mut self, name: &str, mac: MacAddr) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        let msg = LinkUnspec::new_with_index(index)
            .address(mac.0.to_vec())
            .build();
        self.set(msg, "set mac", name)
    }

    /// Sets the MTU of a link.
    pub fn set_mtu(&mut self, name: &str, mtu: u32) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        self.set(
            LinkUnspec::new_with_index(index).mtu(mtu).build(),
            "set mtu",
            name,
        )
    }

    /// Renames a link (it must be down).
    pub fn set_name(&mut self, name: &str, new_name: &str) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        let msg = LinkUnspec::new_with_index(index).name(new_name).build();
        self.set(msg, "rename", name)
    }

    /// Enslaves `name` to the bridge `bridge`.
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<(), LinkError> {
        let master = self.ifindex(bridge)?;
        let index = self.ifindex(name)?;
        let msg = LinkUnspec::new_with_index(index).controller(master).build();
        self.set(msg, "enslave to bridge", name)
    }

    /// Moves `name` into the namespace `to`; it arrives down, without addresses.
    pub fn move_to_netns(&mut self, name: &str, to: &Netns) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        let msg = LinkUnspec::new_with_index(index)
            .setns_by_fd(to.as_raw_fd())
            .build();
        self.set(msg, "move to another netns", name)
    }

    /// Adds an IPv4 or IPv6 address with its prefix length (`10.99.0.1/24`).
    pub fn add_address(&mut self, name: &str, addr: IpNet) -> Result<(), LinkError> {
        let index = self.ifindex(name)?;
        let msg = match addr {
            IpNet::V4(a) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(index)
                .address(a.addr(), a.prefix_len())
                .build(),
            IpNet::V6(a) => AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                .index(index)
                .address(a.addr(), a.prefix_len())
                .build(),
        };
        self.create(RouteNetlinkMessage::NewAddress(msg), "add address", name)
    }

    /// The addresses of `name`, with their prefix lengths.
    pub fn addresses(&mut self, name: &str) -> Result<Vec<IpNet>, LinkError> {
        use netlink_packet_route::address::{AddressAttribute, AddressMessage};
        let index = self.ifindex(name)?;
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
            "list addresses",
            name,
        )?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewAddress(msg) = reply else {
                continue;
            };
            if msg.header.index != index {
                continue;
            }
            let len = msg.header.prefix_len;
            for attr in &msg.attributes {
                if let AddressAttribute::Address(ip) = attr
                    && let Ok(net) = IpNet::new(*ip, len)
                {
                    out.push(net);
                }
            }
        }
        Ok(out)
    }

    /// Adds a route to `dest` via `gateway` and/or out of `dev` (main table).
    pub fn add_route(
        &mut self,
        dest: IpNet,
        gateway: Option<IpAddr>,
        dev: Option<&str>,
    ) -> Result<(), LinkError> {
        let what = format!("{dest}");
        let invalid = |detail: String| LinkError::Invalid {
            ns: self.ns.clone(),
            op: "add route",
            dev: what.clone(),
            detail,
        };
        let mut builder = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dest.addr(), dest.prefix_len())
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(gw) = gateway {
            builder = builder.gateway(gw).map_err(|e| invalid(e.to_string()))?;
        }
        if let Some(dev) = dev {
            builder = builder.output_interface(self.ifindex(dev)?);
        }
        self.create(
            RouteNetlinkMessage::NewRoute(builder.build()),
            "add route",
            &what,
        )
    }

    fn set(&mut self, msg: LinkMessage, op: &'static str, dev: &str) -> Result<(), LinkError> {
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, op, dev)
    }

    fn create(
        &mut self,
        msg: RouteNetlinkMessage,
        op: &'static str,
        dev: &str,
    ) -> Result<(), LinkError> {
        self.ack(msg, NLM_F_CREATE | NLM_F_EXCL, op, dev)
    }

    fn ack(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &'static str,
        dev: &str,
    ) -> Result<(), LinkError> {
        self.request(msg, NLM_F_REQUEST | NLM_F_ACK | flags, op, dev)
            .map(drop)
    }

    /// Sends one request and collects the replies up to the ACK, `DONE` or
    /// the single non-multipart answer.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &'static str,
        dev: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, LinkError> {
        let err = |source: io::Error| LinkError::Netlink {
            ns: self.ns.clone(),
            op,
            dev: dev.to_owned(),
            source,
        };
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        req.header.sequence_number = seq;
        req.finalize();
        let mut buf = vec![0; req.buffer_len()];
        req.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(err)?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(err)?;
            let mut off = 0;
            while off < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(|e| err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if reply.header.sequence_number != seq {
                    continue;
                }
                let multipart = reply.header.flags & NLM_F_MULTIPART != 0;
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(err(io::Error::from_raw_os_error(-code.get()))),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        out.push(m);
                        if !multipart && flags & NLM_F_ACK == 0 {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for Netlink {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

fn link_info(link: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: link.header.index,
        name: String::new(),
        mac: None,
        mtu: 0,
        up: link.header.flags.contains(LinkFlags::Up),
        master: None,
    };
    for attr in &link.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name.clone_from(n),
            LinkAttribute::Address(a) => {
                info.mac = <[u8; 6]>::try_from(a.as_slice()).ok().map(MacAddr);
            }
            LinkAttribute::Mtu(m) => info.mtu = *m,
            LinkAttribute::Controller(c) => info.master = Some(*c),
            _ => {}
        }
    }
    info
}
