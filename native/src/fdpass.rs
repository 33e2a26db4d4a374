//! Descriptors across processes on Linux: the privileged helper opens the TUN and the marked UDP
//! socket and passes them to the unprivileged app over a unix stream socket as SCM_RIGHTS
//! ancillary data (unix(7), cmsg(3)). Node's net.Socket cannot send or receive these, so both
//! ends live here. Everything is non-blocking with an explicit deadline: nothing here may hang
//! the helper or the app on a peer that stops talking.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// At most this many descriptors are accepted in one reply (the protocol passes two).
const MAX_FDS: usize = 16;
/// A reply line longer than this is not a helper talking to us.
const MAX_REPLY: usize = 64 * 1024;

/// A failure with the errno name JS code expects in `err.code` (ENOENT, ECONNREFUSED, …).
#[derive(Debug)]
pub struct FdError {
    pub code: String,
    pub message: String,
}

impl FdError {
    pub fn io(what: &str, e: &io::Error) -> FdError {
        FdError { code: errno_name(e), message: format!("{what}: {e}") }
    }
    fn new(code: &str, message: impl Into<String>) -> FdError {
        FdError { code: code.into(), message: message.into() }
    }
}

/// The symbolic errno Node itself would put in `err.code`; unknown ones as "E<number>".
pub fn errno_name(e: &io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return match e.kind() {
            io::ErrorKind::TimedOut => "ETIMEDOUT",
            io::ErrorKind::UnexpectedEof => "ECONNRESET",
            io::ErrorKind::InvalidInput => "EINVAL",
            io::ErrorKind::InvalidData => "EPROTO",
            io::ErrorKind::Unsupported => "ENOTSUP",
            io::ErrorKind::PermissionDenied => "EACCES",
            _ => "EIO",
        }
        .into();
    };
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::EPIPE => "EPIPE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EPROTO => "EPROTO",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        _ => return format!("E{n}"),
    };
    name.into()
}

/// Waits until `fd` is ready for `events`; false when the deadline passed first. Error and hang-up
/// states count as ready, so the following syscall reports them.
fn wait(fd: RawFd, events: libc::c_short, deadline: Instant) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd { fd, events, revents: 0 };
        // SAFETY: one valid pollfd on the stack.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r > 0 {
            return Ok(true);
        }
    }
}

fn timed_out(what: &str, timeout: Duration) -> FdError {
    FdError::new("ETIMEDOUT", format!("{what}: no progress within {} ms", timeout.as_millis()))
}

/// Writes all of `data` to a connected stream socket, the `fds` riding on the first byte as
/// SCM_RIGHTS (unix(7): ancillary data is attached to the first byte of the write that carries it,
/// so a short write sends the rest without them). The socket may be non-blocking (Node's): EAGAIN
/// waits for POLLOUT until `timeout`. MSG_NOSIGNAL: a vanished peer is an EPIPE error, not a signal.
pub fn send_fds(sock: RawFd, data: &[u8], fds: &[RawFd], timeout: Duration) -> Result<(), FdError> {
    if data.is_empty() {
        return Err(FdError::new("EINVAL", "sendFds needs at least one byte of data to carry descriptors"));
    }
    if fds.len() > MAX_FDS {
        return Err(FdError::new("EINVAL", format!("sendFds: at most {MAX_FDS} descriptors, got {}", fds.len())));
    }
    let deadline = Instant::now() + timeout;
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE is pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut off = 0usize;
    let mut with_fds = !fds.is_empty();
    while off < data.len() {
        let rest = &data[off..];
        let mut iov = libc::iovec { iov_base: rest.as_ptr() as *mut libc::c_void, iov_len: rest.len() };
        // SAFETY: msghdr is plain data; iov and control outlive sendmsg, and the cmsg written via the
        // CMSG macros fits in `control` (sized with CMSG_SPACE for exactly these descriptors).
        let r = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            if with_fds {
                msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                msg.msg_controllen = space as _;
                let cm = libc::CMSG_FIRSTHDR(&msg);
                (*cm).cmsg_level = libc::SOL_SOCKET;
                (*cm).cmsg_type = libc::SCM_RIGHTS;
                (*cm).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
                std::ptr::copy_nonoverlapping(fds.as_ptr() as *const u8, libc::CMSG_DATA(cm), payload);
            }
            libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL)
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    if !wait(sock, libc::POLLOUT, deadline).map_err(|e| FdError::io("sendFds: poll", &e))? {
                        return Err(timed_out("sendFds", timeout));
                    }
                    continue;
                }
                _ => return Err(FdError::io("sendFds: sendmsg", &e)),
            }
        }
        off += r as usize;
        with_fds = false;
    }
    Ok(())
}

fn socket_unix() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before being owned.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn connect_unix(path: &str, deadline: Instant, timeout: Duration) -> Result<OwnedFd, FdError> {
    let sock = socket_unix().map_err(|e| FdError::io("socket", &e))?;
    // SAFETY: sockaddr_un is plain data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.is_empty() || bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(FdError::new("ENAMETOOLONG", format!("socket path {path:?} is empty, too long or has a NUL byte")));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    loop {
        // SAFETY: addr is a valid sockaddr_un of `len` bytes.
        let r = unsafe { libc::connect(sock.as_raw_fd(), &addr as *const _ as *const libc::sockaddr, len) };
        if r == 0 {
            return Ok(sock);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // A unix socket whose accept backlog is full answers EAGAIN to a non-blocking connect
            // (unix(7)); nothing is in progress, so try again shortly.
            Some(libc::EAGAIN) => {
                if Instant::now() >= deadline {
                    return Err(timed_out(&format!("connecting to {path}"), timeout));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Some(libc::EINPROGRESS) => {
                if !wait(sock.as_raw_fd(), libc::POLLOUT, deadline).map_err(|e| FdError::io("poll", &e))? {
                    return Err(timed_out(&format!("connecting to {path}"), timeout));
                }
                let err = sock_error(sock.as_raw_fd());
                return match err {
                    None => Ok(sock),
                    Some(e) => Err(FdError::io(&format!("connecting to {path}"), &e)),
                };
            }
            _ => return Err(FdError::io(&format!("connecting to {path}"), &e)),
        }
    }
}

fn sock_error(fd: RawFd) -> Option<io::Error> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a live c_int of the stated size.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut v as *mut _ as *mut libc::c_void, &mut len) };
    if r < 0 {
        return Some(io::Error::last_os_error());
    }
    (v != 0).then(|| io::Error::from_raw_os_error(v))
}

/// One recvmsg: appends bytes to `buf` and received descriptors (CLOEXEC) to `fds`; returns the byte
/// count (0 = end of stream).
fn recv_some(sock: RawFd, buf: &mut Vec<u8>, fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut chunk = [0u8; 4096];
    // SAFETY: CMSG_SPACE is pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: chunk.as_mut_ptr() as *mut libc::c_void, iov_len: chunk.len() };
    // SAFETY: msghdr is plain data; iov/control outlive recvmsg; cmsgs are walked with the libc macros
    // within `control`, and each SCM_RIGHTS payload holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors
    // that the kernel just installed in this process (so they are ours to own).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut cm = libc::CMSG_FIRSTHDR(&msg);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*cm).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(cm);
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned((data as *const RawFd).add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cm = libc::CMSG_NXTHDR(&msg, cm);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            // Some descriptors were dropped by the kernel: the reply cannot be trusted to be whole.
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("more than {MAX_FDS} descriptors sent (truncated)")));
        }
        buf.extend_from_slice(&chunk[..n as usize]);
        Ok(n as usize)
    }
}

/// The app's side of one helper request: connect, write `request` (a line), read the first reply
/// line (returned without its "\n") and every descriptor that came with it. Any failure closes the
/// descriptors received so far (they are OwnedFd), so nothing leaks into the process.
pub fn exchange(path: &str, request: &[u8], timeout: Duration) -> Result<(String, Vec<OwnedFd>), FdError> {
    let deadline = Instant::now() + timeout;
    let sock = connect_unix(path, deadline, timeout)?;
    let left = deadline.saturating_duration_since(Instant::now());
    send_fds(sock.as_raw_fd(), request, &[], left).map_err(|e| FdError { code: e.code, message: format!("sending the request to {path}: {}", e.message) })?;
    let mut buf = Vec::new();
    let mut fds = Vec::new();
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            buf.truncate(end);
            let reply = String::from_utf8(buf).map_err(|_| FdError::new("EPROTO", format!("the reply from {path} is not UTF-8")))?;
            return Ok((reply, fds));
        }
        if buf.len() > MAX_REPLY {
            return Err(FdError::new("EPROTO", format!("the reply from {path} has no line end within {MAX_REPLY} bytes")));
        }
        if !wait(sock.as_raw_fd(), libc::POLLIN, deadline).map_err(|e| FdError::io("poll", &e))? {
            return Err(timed_out(&format!("waiting for the reply from {path}"), timeout));
        }
        match recv_some(sock.as_raw_fd(), &mut buf, &mut fds) {
            Ok(0) => return Err(FdError::new("ECONNRESET", format!("{path} closed the connection before a full reply line"))),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(FdError::io(&format!("reading the reply from {path}"), &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn passes_descriptors_and_short_data_over_a_socketpair() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = UnixStream::pair().unwrap();
        send_fds(a.as_raw_fd(), b"hello\n", &[w.as_raw_fd()], Duration::from_secs(1)).unwrap();
        let mut buf = Vec::new();
        let mut fds = Vec::new();
        recv_some(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(buf, b"hello\n");
        assert_eq!(fds.len(), 1);
        // The received descriptor is the same socket: writing to it reaches `r`.
        let f = std::fs::File::from(fds.pop().unwrap());
        use std::io::{Read, Write};
        (&f).write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        (&r).read_exact(&mut one).unwrap();
        assert_eq!(&one, b"x");
    }

    #[test]
    fn refuses_empty_data_and_names_errnos() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(send_fds(a.as_raw_fd(), b"", &[0], Duration::from_secs(1)).unwrap_err().code, "EINVAL");
        assert_eq!(errno_name(&io::Error::from_raw_os_error(libc::ECONNREFUSED)), "ECONNREFUSED");
        assert_eq!(errno_name(&io::Error::from_raw_os_error(4095)), "E4095");
    }

    #[test]
    fn exchange_reports_a_missing_socket_as_enoent() {
        let e = exchange("/nonexistent/meshtray-test.sock", b"x\n", Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.code, "ENOENT");
    }
}
