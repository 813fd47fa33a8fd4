//! Tap devices: `IFF_TAP | IFF_NO_PI`, one Ethernet frame per read/write.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use tun_rs::{DeviceBuilder, Layer, SyncDevice};

use crate::FrameIo;
use crate::netns::{Netns, NetnsError};

/// Errors of tap handling; each names the namespace and the device.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// Creating, attaching or configuring the tap failed.
    #[error("netns {ns:?}: tap {dev:?}: {op}: {source}")]
    Io {
        /// The namespace.
        ns: String,
        /// The device.
        dev: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Entering the namespace failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

/// An open tap device with a non-blocking fd.
///
/// Opening a name that does not exist creates the tap; it disappears when
/// the last fd is closed unless it was made persistent elsewhere (e.g. by a
/// hypervisor, or `ip tuntap add`). The tap starts down: set it up with
/// [`crate::Netlink::set_up`].
pub struct Tap {
    name: String,
    device: SyncDevice,
    vnet_hdr: bool,
}

impl Tap {
    /// Opens (creating if needed) the tap `name` inside `ns`.
    pub fn open(ns: &Netns, name: &str) -> Result<Tap, TapError> {
        Tap::open_with(ns, name, false)
    }

    /// Opens the tap with `IFF_VNET_HDR` and the kernel's checksum and
    /// TCP/UDP segmentation offloads on: every frame read or written starts
    /// with a virtio-net header, and reads may return super-frames of up to
    /// 64 KiB (see `weft_wire::offload`).
    pub fn open_offload(ns: &Netns, name: &str) -> Result<Tap, TapError> {
        Tap::open_with(ns, name, true)
    }

    fn open_with(ns: &Netns, name: &str, vnet_hdr: bool) -> Result<Tap, TapError> {
        let err = |op: &'static str| {
            move |source| TapError::Io {
                ns: ns.name().to_owned(),
                dev: name.to_owned(),
                op,
                source,
            }
        };
        // TUNSETIFF creates the device in the namespace of the calling thread.
        let device = ns
            .run(|| {
                DeviceBuilder::new()
                    .name(name)
                    .layer(Layer::L2)
                    .packet_information(false)
                    .offload(vnet_hdr)
                    .build_sync()
            })?
            .map_err(err("open /dev/net/tun"))?;
        device
            .set_nonblocking(true)
            .map_err(err("set non-blocking"))?;
        Ok(Tap {
            name: name.to_owned(),
            device,
            vnet_hdr,
        })
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame the kernel sent to the tap; `WouldBlock` when none.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.device.recv(buf)
    }

    /// Writes one frame into the kernel as if received by the tap.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        self.device.send(frame)
    }

    /// Whether frames carry a virtio-net header ([`Tap::open_offload`]).
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("name", &self.name)
            .field("fd", &self.device.as_raw_fd())
            .field("vnet_hdr", &self.vnet_hdr)
            .finish()
    }
}

impl FrameIo for Tap {
    fn recv_frame(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }

    fn send_frame(&self, frame: &[u8]) -> io::Result<usize> {
        self.send(frame)
    }

    fn send_parts(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.device.send_vectored(parts)
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.device.as_fd()
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.device.as_raw_fd()
    }
}
