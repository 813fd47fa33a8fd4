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
