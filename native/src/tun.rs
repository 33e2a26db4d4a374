//! The TUN device behind a small trait, so macOS utun and Windows Wintun can follow without
//! touching the engine. Linux uses tun-rs (which also covers utun and Wintun; on Windows the
//! signed wintun.dll must be shipped next to the daemon, see shared/spec/dependencies.md §5).

use std::io;
use std::net::IpAddr;
use std::time::Duration;

pub trait TunDevice: Send + Sync {
    /// Reads one IP packet. Returns Ok(None) if none arrived within `timeout`.
    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>>;
    /// Writes one IP packet.
    fn send(&self, packet: &[u8]) -> io::Result<usize>;
    fn name(&self) -> String;
}

pub struct TunConfig {
    pub name: String,
    pub mtu: u16,
    pub addresses: Vec<(IpAddr, u8)>,
}

#[cfg(unix)]
pub fn open(cfg: &TunConfig) -> io::Result<Box<dyn TunDevice>> {
    unix::open(cfg)
}

#[cfg(not(unix))]
pub fn open(_cfg: &TunConfig) -> io::Result<Box<dyn TunDevice>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "TUN is implemented for Linux (and Unix via tun-rs) only so far"))
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::fd::AsRawFd;
    use tun_rs::{DeviceBuilder, SyncDevice};

    struct UnixTun {
        dev: SyncDevice,
        name: String,
    }

    pub fn open(cfg: &TunConfig) -> io::Result<Box<dyn TunDevice>> {
        let mut b = DeviceBuilder::new().name(cfg.name.clone()).mtu(cfg.mtu);
        // tun-rs without its address-management feature configures one IPv4 address at creation
        // (ioctl) and any number of IPv6 ones; a tailnet node has one of each.
        let mut have_v4 = false;
        for (addr, len) in &cfg.addresses {
            match addr {
                IpAddr::V4(a) if !have_v4 => {
                    b = b.ipv4(*a, *len, None);
                    have_v4 = true;
                }
                IpAddr::V4(_) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, "only one IPv4 address per TUN is supported"))
                }
                IpAddr::V6(a) => b = b.ipv6(*a, *len),
            }
        }
        let dev = b.build_sync()?;
        dev.set_nonblocking(true)?;
        let name = dev.name().unwrap_or_else(|_| cfg.name.clone());
        Ok(Box::new(UnixTun { dev, name }))
    }

    impl TunDevice for UnixTun {
        fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
            // Under load a packet is usually waiting: try the read first and poll only when the
            // queue is empty (one syscall per packet instead of two).
            match self.dev.recv(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            // poll(2) with a timeout instead of a blocking read, so the reader thread notices close().
            let mut pfd = libc::pollfd { fd: self.dev.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::Interrupted { Ok(None) } else { Err(e) };
            }
            if r == 0 {
                return Ok(None);
            }
            match self.dev.recv(buf) {
                Ok(n) => Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => Ok(None),
                Err(e) => Err(e),
            }
        }
        fn send(&self, packet: &[u8]) -> io::Result<usize> {
            self.dev.send(packet)
        }
        fn name(&self) -> String {
            self.name.clone()
        }
    }
}
