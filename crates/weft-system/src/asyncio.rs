//! Thin async wrappers over tokio's `AsyncFd` (feature `tokio`).
//!
//! UDP sockets need none: `tokio::net::UdpSocket::from_std` takes the
//! (already non-blocking) socket from [`crate::udp_socket`] as it is.
#![allow(unsafe_code)]

use std::io;
use std::net::Ipv4Addr;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::FrameIo;
use crate::underlay::GreSocket;

/// An async frame device over a [`FrameIo`] ([`crate::Tap`], [`crate::PacketSocket`]).
#[derive(Debug)]
pub struct AsyncFrames<T: FrameIo + std::os::fd::AsRawFd> {
    inner: AsyncFd<T>,
}

impl<T: FrameIo + std::os::fd::AsRawFd> AsyncFrames<T> {
    /// Registers the device with the current tokio runtime.
    pub fn new(device: T) -> io::Result<Self> {
        // SAFETY: `FrameIo` is sealed: only `Tap` and `PacketSocket`
        // implement it, each owns its fd for its whole life and always
        // returns that same fd from `as_raw_fd`.
        let inner = unsafe { AsyncFd::register(device) }?;
        Ok(AsyncFrames { inner })
    }

    /// The wrapped device.
    pub fn get_ref(&self) -> &T {
        self.inner.get_ref()
    }

    /// Waits for and receives one frame. A pending socket error (a packet
    /// socket whose interface went down or away) wakes it too and is
    /// returned.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self
                .inner
                .ready(Interest::READABLE | Interest::ERROR)
                .await?;
            if let Ok(res) = ready.try_io(|d| d.get_ref().recv_frame(buf)) {
                return res;
            }
        }
    }

    /// Waits until the device can take a frame and sends it.
    pub async fn send(&self, frame: &[u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.inner.writable().await?;
            if let Ok(res) = ready.try_io(|d| d.get_ref().send_frame(frame)) {
                return res;
            }
        }
    }
}

/// An async [`GreSocket`].
#[derive(Debug)]
pub struct AsyncGre {
    inner: AsyncFd<GreSocket>,
}

impl AsyncGre {
    /// Registers the socket with the current tokio runtime.
    pub fn new(socket: GreSocket) -> io::Result<Self> {
        // SAFETY: `GreSocket` owns its fd (an `OwnedFd`) for its whole life
        // and always returns that same fd from `as_raw_fd`.
        let inner = unsafe { AsyncFd::register(socket) }?;
        Ok(AsyncGre { inner })
    }

    /// The wrapped socket.
    pub fn get_ref(&self) -> &GreSocket {
        self.inner.get_ref()
    }

    /// Waits for one GRE packet; see [`GreSocket::recv_from`].
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Ipv4Addr)> {
        loop {
            let mut ready = self.inner.readable().await?;
            if let Ok(res) = ready.try_io(|s| s.get_ref().recv_from(buf)) {
                return res;
            }
        }
    }

    /// Sends one GRE payload to `dst`; see [`GreSocket::send_to`].
    pub async fn send_to(&self, payload: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
        loop {
            let mut ready = self.inner.writable().await?;
            if let Ok(res) = ready.try_io(|s| s.get_ref().send_to(payload, dst)) {
                return res;
            }
        }
    }
}
