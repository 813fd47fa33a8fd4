//! Small helpers shared by the FFI modules.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Waits until `fd` is readable or `timeout` passes; `Ok(false)` on timeout.
///
/// For tests and simple callers; the agent uses tokio's `AsyncFd` instead.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let n = poll(&mut fds, timeout).map_err(io::Error::from)?;
    Ok(n > 0)
}

/// Turns a libc return value into an `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Turns a libc `ssize_t` return value into an `io::Result<usize>`.
pub(crate) fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// One `writev(2)` of `parts` to `fd`.
#[allow(unsafe_code)]
pub(crate) fn writev(fd: BorrowedFd<'_>, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let count = libc::c_int::try_from(parts.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many parts"))?;
    // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` on Unix, each
    // describes readable memory borrowed for this call, and `fd` is open.
    cvt_size(unsafe { libc::writev(fd.as_raw_fd(), parts.as_ptr().cast(), count) })
}

/// Sets the socket's receive and send buffers to `bytes` each, above the
/// system maximum when the process may (`CAP_NET_ADMIN`), else as far as
/// the maximum allows. Bursts of 64 KiB super-frames overflow the default.
#[allow(unsafe_code)]
pub fn set_socket_buffers(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let set = |option: libc::c_int| {
        // SAFETY: `value` is a readable c_int and its size is passed; `fd`
        // is open for the call.
        cvt(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const value).cast(),
                crate::packet::socklen_of::<libc::c_int>(),
            )
        })
        .map(|_| ())
    };
    set(libc::SO_RCVBUFFORCE).or_else(|_| set(libc::SO_RCVBUF))?;
    set(libc::SO_SNDBUFFORCE).or_else(|_| set(libc::SO_SNDBUF))
}

/// Gives SIGPIPE back its default action, so that a command-line tool
/// writing to a closed pipe ends as `ls | head` ends its `ls`. The Rust
/// runtime ignores SIGPIPE at start; daemons should keep it that way.
#[allow(unsafe_code)]
pub fn default_sigpipe() -> io::Result<()> {
    // SAFETY: SIG_DFL installs no handler, so no code of ours can run in
    // signal context; `signal` has no other precondition.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if previous == libc::SIG_ERR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
