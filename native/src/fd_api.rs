//! JS bindings for handing descriptors over (issue 7): a root helper opens the TUN and the marked
//! UDP socket (`openTunFd`, `openUdpFd`) and sends them (`sendFds`); the unprivileged app receives
//! them (`helperExchange`) and gives them to `new DataPlane({ tunFd, udpFd })`. Errors carry the
//! errno name in `err.code` as Node's own errors do. Linux only; elsewhere each call throws
//! "unsupported on <os>".

use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object)]
pub struct OpenTunFdOptions {
    pub name: String,
    pub mtu: u32,
    /// CIDRs: at most one IPv4, any number of IPv6.
    pub addresses: Option<Vec<String>>,
    /// Ask for IFF_VNET_HDR offloads (default false: a DataPlane cannot adopt such a descriptor).
    pub offload: Option<bool>,
}

#[napi(object)]
pub struct OpenedTunFd {
    pub fd: i32,
    pub name: String,
    pub offload: bool,
}

#[napi(object)]
pub struct OpenUdpFdOptions {
    pub port: u32,
    pub fwmark: Option<u32>,
}

#[napi(object)]
pub struct OpenedUdpFd {
    pub fd: i32,
    pub port: u32,
}

#[napi(object)]
pub struct HelperReply {
    /// The first line of the reply, without its "\n".
    pub reply: String,
    pub fds: Vec<i32>,
}

/// Throws a JS Error whose `code` is `code` (napi-rs errors would carry only its own status names).
fn throw(env: &Env, code: &str, message: &str) -> Error {
    let _ = env.throw_error(message, Some(code));
    Error::new(Status::PendingException, message.to_string())
}

#[cfg(not(target_os = "linux"))]
fn unsupported(env: &Env, what: &str) -> Error {
    throw(env, "ENOTSUP", &format!("{what} is unsupported on {}", std::env::consts::OS))
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use crate::allowed_ips::Prefix;
    use crate::fdpass::{self, FdError};
    use crate::tun::{self, TunConfig};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::os::fd::{IntoRawFd, OwnedFd};
    use std::time::Duration;

    /// How long sendFds keeps waiting for room in a full socket buffer.
    const SEND_TIMEOUT: Duration = Duration::from_secs(5);
    /// Above what an unprivileged socket may ask for: the helper runs as root (SO_*BUFFORCE), as
    /// magicsock does when it can (dataplane.md §4.6: 7 MiB).
    const SOCKET_BUFFER: usize = 7 << 20;

    pub fn parse_addresses(list: &[String]) -> std::result::Result<Vec<(IpAddr, u8)>, String> {
        let mut out = Vec::new();
        for a in list {
            let p = Prefix::parse(a)?;
            let (ip, _) = a.split_once('/').unwrap_or((a, ""));
            let ip: IpAddr = ip.parse().map_err(|_| format!("invalid address {a:?}"))?;
            out.push((ip, p.len));
        }
        if out.iter().filter(|(ip, _)| ip.is_ipv4()).count() > 1 {
            return Err("at most one IPv4 address per TUN".into());
        }
        Ok(out)
    }

    pub fn open_tun_fd(env: &Env, o: OpenTunFdOptions) -> Result<OpenedTunFd> {
        if !(576..=65_535).contains(&o.mtu) {
            return Err(throw(env, "EINVAL", &format!("openTunFd: mtu {} out of range 576..65535", o.mtu)));
        }
        let addresses = parse_addresses(&o.addresses.unwrap_or_default()).map_err(|e| throw(env, "EINVAL", &format!("openTunFd: {e}")))?;
        let cfg = TunConfig { name: o.name.clone(), mtu: o.mtu as u16, addresses, offload: o.offload.unwrap_or(false) };
        let (fd, name, offload) = tun::create_fd(&cfg).map_err(|e| {
            let fe = FdError::io(&format!("openTunFd: creating TUN {:?}", o.name), &e);
            throw(env, &fe.code, &fe.message)
        })?;
        Ok(OpenedTunFd { fd: fd.into_raw_fd(), name, offload })
    }

    fn bind(v6: bool, port: u16, fwmark: Option<u32>) -> std::io::Result<socket2::Socket> {
        use socket2::{Domain, Protocol, Socket, Type};
        // socket2 creates it CLOEXEC: the helper's children never inherit it.
        let s = Socket::new(if v6 { Domain::IPV6 } else { Domain::IPV4 }, Type::DGRAM, Some(Protocol::UDP))?;
        if v6 {
            // One socket for both families (ipv6(7) IPV6_V6ONLY=0); the data plane maps IPv4 peers.
            s.set_only_v6(false)?;
        }
        if let Some(m) = fwmark {
            s.set_mark(m)?;
        }
        force_buffers(&s);
        let addr: SocketAddr = if v6 { (Ipv6Addr::UNSPECIFIED, port).into() } else { (Ipv4Addr::UNSPECIFIED, port).into() };
        s.bind(&addr.into())?;
        s.set_nonblocking(true)?;
        Ok(s)
    }

    fn force_buffers(s: &socket2::Socket) {
        use std::os::fd::AsRawFd;
        let v = SOCKET_BUFFER as libc::c_int;
        for (force, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
            // SAFETY: setsockopt with a live c_int and its size. Best effort: FORCE needs
            // CAP_NET_ADMIN; without it the plain option is capped by net.core.[rw]mem_max.
            unsafe {
                let p = &v as *const _ as *const libc::c_void;
                let n = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                if libc::setsockopt(s.as_raw_fd(), libc::SOL_SOCKET, force, p, n) != 0 {
                    libc::setsockopt(s.as_raw_fd(), libc::SOL_SOCKET, plain, p, n);
                }
            }
        }
    }

    pub fn open_udp_fd(env: &Env, o: OpenUdpFdOptions) -> Result<OpenedUdpFd> {
        if o.port > 65_535 {
            return Err(throw(env, "EINVAL", &format!("openUdpFd: port {} out of range", o.port)));
        }
        let port = o.port as u16;
        let fail = |what: &str, e: std::io::Error| {
            let fe = FdError::io(&format!("openUdpFd: {what}"), &e);
            throw(env, &fe.code, &fe.message)
        };
        let s = match bind(true, port, o.fwmark) {
            Ok(s) => s,
            // No IPv6 in this namespace/kernel: an IPv4 socket, as the data plane does for itself.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)) => {
                bind(false, port, o.fwmark).map_err(|e| fail(&format!("binding UDP port {port}"), e))?
            }
            Err(e) => return Err(fail(&format!("binding UDP port {port}"), e)),
        };
        let bound = s
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .ok_or_else(|| throw(env, "EIO", "openUdpFd: cannot read the bound port"))?;
        let fd: OwnedFd = s.into();
        Ok(OpenedUdpFd { fd: fd.into_raw_fd(), port: bound as u32 })
    }

    pub fn send_fds(env: &Env, socket_fd: i32, data: &[u8], fds: &[i32]) -> Result<()> {
        if socket_fd < 0 || fds.iter().any(|&f| f < 0) {
            return Err(throw(env, "EBADF", "sendFds: negative descriptor"));
        }
        fdpass::send_fds(socket_fd, data, fds, SEND_TIMEOUT).map_err(|e| throw(env, &e.code, &e.message))
    }

    pub fn close_fd(env: &Env, fd: i32) -> Result<()> {
        if fd < 0 {
            return Err(throw(env, "EBADF", &format!("closeFd: bad descriptor {fd}")));
        }
        // SAFETY: close(2) on a number the caller says it owns; EBADF is reported, not UB.
        if unsafe { libc::close(fd) } != 0 {
            let e = std::io::Error::last_os_error();
            let fe = FdError::io(&format!("closeFd({fd})"), &e);
            return Err(throw(env, &fe.code, &fe.message));
        }
        Ok(())
    }

    /// Checks that `fd` is an open descriptor before anyone takes ownership of the number.
    pub fn is_open(fd: i32) -> bool {
        // SAFETY: F_GETFD only reads the descriptor flags.
        fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0
    }

    /// SAFETY: callers pass a number checked with `is_open` that the JS caller handed over.
    pub unsafe fn take(fd: i32) -> OwnedFd {
        use std::os::fd::FromRawFd;
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

}

/// helperExchange's worker-thread job. On failure the errno name is kept for `reject`, which
/// runs on the JS thread and builds the Error with it as `code`.
pub struct HelperExchangeTask {
    path: String,
    request: String,
    timeout: std::time::Duration,
    failure: Option<(String, String)>,
}

impl Task for HelperExchangeTask {
    #[cfg(target_os = "linux")]
    type Output = (String, Vec<std::os::fd::OwnedFd>);
    #[cfg(not(target_os = "linux"))]
    type Output = (String, Vec<i32>);
    type JsValue = HelperReply;

    fn compute(&mut self) -> Result<Self::Output> {
        #[cfg(target_os = "linux")]
        let r = crate::fdpass::exchange(&self.path, self.request.as_bytes(), self.timeout).map_err(|e| (e.code, e.message));
        #[cfg(not(target_os = "linux"))]
        let r: std::result::Result<Self::Output, (String, String)> =
            Err(("ENOTSUP".into(), format!("unsupported on {}", std::env::consts::OS)));
        r.map_err(|(code, message)| {
            let msg = format!("helperExchange: {message}");
            self.failure = Some((code, msg.clone()));
            Error::new(Status::GenericFailure, msg)
        })
    }

    fn resolve(&mut self, _env: Env, (reply, fds): Self::Output) -> Result<Self::JsValue> {
        #[cfg(target_os = "linux")]
        let fds = {
            use std::os::fd::IntoRawFd;
            // From here on JS owns the descriptors.
            fds.into_iter().map(|f| f.into_raw_fd()).collect()
        };
        Ok(HelperReply { reply, fds })
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<Self::JsValue> {
        let Some((code, message)) = self.failure.take() else { return Err(err) };
        let js = JsError::from(Error::new(code, message));
        // SAFETY: env is the live env this completion runs on; `value` was just created in it.
        let value = unsafe { js.into_value(env.raw()) };
        Err(Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }))
    }
}

/// Root: creates (or opens) TUN `name` with MTU and addresses, brings it up, and returns a
/// descriptor the caller owns (nothing in the addon closes it) and the kernel's name for it.
#[napi]
pub fn open_tun_fd(env: Env, o: OpenTunFdOptions) -> Result<OpenedTunFd> {
    #[cfg(target_os = "linux")]
    return linux::open_tun_fd(&env, o);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = o;
        Err(unsupported(&env, "openTunFd"))
    }
}

/// A dual-stack (or IPv4-only fallback) UDP socket bound to `port` (0 = any) with SO_MARK
/// `fwmark` (needs CAP_NET_ADMIN), non-blocking, CLOEXEC; the caller owns the descriptor.
#[napi]
pub fn open_udp_fd(env: Env, o: OpenUdpFdOptions) -> Result<OpenedUdpFd> {
    #[cfg(target_os = "linux")]
    return linux::open_udp_fd(&env, o);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = o;
        Err(unsupported(&env, "openUdpFd"))
    }
}

/// sendmsg(2) `data` with SCM_RIGHTS `fds` on a connected unix stream socket (e.g. a Node
/// net.Socket's descriptor; EAGAIN waits up to 5 s for room).
#[napi]
pub fn send_fds(env: Env, socket_fd: i32, data: Uint8Array, fds: Vec<i32>) -> Result<()> {
    #[cfg(target_os = "linux")]
    return linux::send_fds(&env, socket_fd, &data, &fds);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket_fd, data, fds);
        Err(unsupported(&env, "sendFds"))
    }
}

/// One request/reply with the helper on a worker thread: connect to `socketPath`, write
/// `requestLine`, read the first reply line and the descriptors sent with it (CLOEXEC).
#[napi]
pub fn helper_exchange(socket_path: String, request_line: String, timeout_ms: u32) -> Result<AsyncTask<HelperExchangeTask>> {
    if timeout_ms == 0 {
        return Err(Error::new(Status::InvalidArg, "helperExchange: timeoutMs must be > 0"));
    }
    Ok(AsyncTask::new(HelperExchangeTask {
        path: socket_path,
        request: request_line,
        timeout: std::time::Duration::from_millis(timeout_ms as u64),
        failure: None,
    }))
}

#[napi]
pub fn close_fd(env: Env, fd: i32) -> Result<()> {
    #[cfg(target_os = "linux")]
    return linux::close_fd(&env, fd);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        Err(unsupported(&env, "closeFd"))
    }
}

#[cfg(target_os = "linux")]
pub use linux::{is_open, take};
