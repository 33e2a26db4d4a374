//! The TUN device behind a small trait, so macOS utun and Windows Wintun can follow without
//! touching the engine. Unix uses tun-rs (which also covers Wintun; on Windows the signed
//! wintun.dll must be shipped next to the daemon, see shared/spec/dependencies.md §5).
//!
//! On Linux the device is opened with offloads (IFF_VNET_HDR + TUNSETOFFLOAD, as tailscaled and
//! wireguard-go do): the kernel hands us TCP/UDP "super-packets" of up to 64 KiB, which tun-rs
//! splits into MTU-sized packets, so one read serves dozens of packets. Every write then carries
//! a 10-byte virtio header; ours is all zeros ("a plain packet, checksums done").

use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// Headroom in front of each packet handed to `send_batch` (room for the 10-byte virtio header).
pub const TUN_WRITE_OFFSET: usize = 16;

/// Capacity of a `send_batch` buffer: the largest IP packet (64 KiB) plus the headroom twice, as
/// tun-rs GRO's capacity check (`2 * offset + merged length`) requires.
pub const TUN_BATCH_SLOT: usize = 65_535 + 2 * TUN_WRITE_OFFSET;

/// An empty buffer for `send_batch`. GRO (tun-rs offload.rs `coalesce_tcp_packets`, as
/// wireguard-go tun/offload_linux.go) appends later TCP segments of a flow into the first
/// segment's buffer in place, and refuses to coalesce (`InsufficientCap`) into one whose capacity
/// cannot hold the whole super-packet, so each slot gets room for 64 KiB up front. Capacity
/// only: pages are touched as far as packets actually grow.
pub fn batch_slot() -> Vec<u8> {
    Vec::with_capacity(TUN_BATCH_SLOT)
}

/// Per-writer state for batched writes (Linux: the GRO table that coalesces TCP segments into
/// super-packets before they enter the kernel).
pub struct TunWriter {
    #[cfg(target_os = "linux")]
    gro: tun_rs::GROTable,
}

impl TunWriter {
    pub fn new() -> TunWriter {
        TunWriter {
            #[cfg(target_os = "linux")]
            gro: tun_rs::GROTable::new(),
        }
    }
}

impl Default for TunWriter {
    fn default() -> Self {
        Self::new()
    }
}

pub trait TunDevice: Send + Sync {
    /// Writes several packets; each buffer is `TUN_WRITE_OFFSET` bytes of headroom followed by
    /// one IP packet. With offloads they are coalesced (GRO) into fewer, larger writes, which
    /// needs buffers made by `batch_slot` (any other buffer is written on its own).
    fn send_batch(&self, w: &mut TunWriter, bufs: &mut [Vec<u8>]) -> io::Result<()> {
        let _ = w;
        let mut res = Ok(());
        for b in bufs.iter() {
            if let Err(e) = self.send(&b[TUN_WRITE_OFFSET.min(b.len())..]) {
                res = Err(e);
            }
        }
        res
    }
    /// Reads one or more IP packets into `bufs` (their lengths into `sizes`) and returns how many;
    /// 0 if none arrived within `timeout`. Each buffer must hold an MTU-sized packet; `scratch`
    /// must hold the largest read (64 KiB + header).
    fn recv_batch(&self, scratch: &mut [u8], bufs: &mut [Vec<u8>], sizes: &mut [usize], timeout: Duration) -> io::Result<usize>;
    /// Writes one IP packet.
    fn send(&self, packet: &[u8]) -> io::Result<usize>;
    fn name(&self) -> String;
    /// Whether the kernel may hand us GSO super-packets (for diagnostics).
    fn offload(&self) -> bool;
}

pub struct TunConfig {
    pub name: String,
    pub mtu: u16,
    pub addresses: Vec<(IpAddr, u8)>,
    /// Try Linux TUN offloads (falls back to plain packets if the kernel refuses).
    pub offload: bool,
}

#[cfg(unix)]
pub fn open(cfg: &TunConfig) -> io::Result<Box<dyn TunDevice>> {
    unix::open(cfg)
}

#[cfg(not(unix))]
pub fn open(_cfg: &TunConfig) -> io::Result<Box<dyn TunDevice>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "TUN is implemented for Linux (and Unix via tun-rs) only so far"))
}

/// Creates the TUN like `open` (name, MTU, addresses, up) but hands back its bare descriptor for
/// another process to use (the privileged helper passes it over SCM_RIGHTS). The device is not
/// persistent: it disappears when the last copy of the descriptor is closed.
/// Returns (descriptor, kernel's name, whether IFF_VNET_HDR offloads are on).
#[cfg(target_os = "linux")]
#[cfg_attr(test, allow(dead_code))] // used by fd_api (napi), not by the cargo tests
pub fn create_fd(cfg: &TunConfig) -> io::Result<(std::os::fd::OwnedFd, String, bool)> {
    unix::create_fd(cfg)
}

/// Adopts a TUN descriptor opened elsewhere (`create_fd` in the helper). It must be a plain
/// IFF_NO_PI TUN without IFF_VNET_HDR: tun-rs `SyncDevice::from_fd` cannot recover the offload
/// framing of a foreign descriptor (see its safety contract), so adopted TUNs run without
/// offloads. The device's real name comes from TUNGETIFF.
#[cfg(target_os = "linux")]
pub fn adopt(fd: std::os::fd::OwnedFd) -> io::Result<Box<dyn TunDevice>> {
    unix::adopt(fd)
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::fd::AsRawFd;
    use tun_rs::{DeviceBuilder, SyncDevice};

    #[cfg(target_os = "linux")]
    const VNET_HDR_LEN: usize = tun_rs::VIRTIO_NET_HDR_LEN;

    struct UnixTun {
        dev: SyncDevice,
        name: String,
        offload: bool,
    }

    fn build(cfg: &TunConfig, offload: bool) -> io::Result<SyncDevice> {
        let mut b = DeviceBuilder::new().name(cfg.name.clone()).mtu(cfg.mtu);
        #[cfg(target_os = "linux")]
        {
            b = b.offload(offload);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = offload;
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
        b.build_sync()
    }

    pub fn open(cfg: &TunConfig) -> io::Result<Box<dyn TunDevice>> {
        let want = cfg.offload && cfg!(target_os = "linux");
        let (dev, offload) = match build(cfg, want) {
            Ok(d) => (d, want),
            Err(_) if want => (build(cfg, false)?, false),
            Err(e) => return Err(e),
        };
        dev.set_nonblocking(true)?;
        let name = dev.name().unwrap_or_else(|_| cfg.name.clone());
        Ok(Box::new(UnixTun { dev, name, offload }))
    }

    #[cfg(target_os = "linux")]
    #[cfg_attr(test, allow(dead_code))]
    pub fn create_fd(cfg: &TunConfig) -> io::Result<(std::os::fd::OwnedFd, String, bool)> {
        use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
        let (dev, offload) = match build(cfg, cfg.offload) {
            Ok(d) => (d, cfg.offload),
            Err(_) if cfg.offload => (build(cfg, false)?, false),
            Err(e) => return Err(e),
        };
        let name = dev.name().unwrap_or_else(|_| cfg.name.clone());
        // SAFETY: into_raw_fd gives up tun-rs's ownership of the open descriptor; OwnedFd takes it.
        let fd = unsafe { OwnedFd::from_raw_fd(dev.into_raw_fd()) };
        Ok((fd, name, offload))
    }

    #[cfg(target_os = "linux")]
    pub fn adopt(fd: std::os::fd::OwnedFd) -> io::Result<Box<dyn TunDevice>> {
        use std::os::fd::IntoRawFd;
        // SAFETY: we own `fd` (OwnedFd); from_fd takes ownership and validates it with TUNGETIFF
        // (rejecting IFF_VNET_HDR), closing it on failure.
        let dev = unsafe { SyncDevice::from_fd(fd.into_raw_fd()) }
            .map_err(|e| io::Error::new(e.kind(), format!("adopting the TUN descriptor: {e}")))?;
        dev.set_nonblocking(true)?;
        let name = dev.name()?;
        Ok(Box::new(UnixTun { dev, name, offload: false }))
    }

    fn would_block(e: &io::Error) -> bool {
        matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
    }

    impl UnixTun {
        fn read_once(&self, scratch: &mut [u8], bufs: &mut [Vec<u8>], sizes: &mut [usize]) -> io::Result<usize> {
            #[cfg(target_os = "linux")]
            if self.offload {
                return self.dev.recv_multiple(scratch, bufs, sizes, 0);
            }
            let _ = scratch;
            let (Some(buf), Some(size)) = (bufs.first_mut(), sizes.first_mut()) else { return Ok(0) };
            *size = self.dev.recv(buf)?;
            Ok(1)
        }

        fn poll(&self, timeout: Duration) -> io::Result<bool> {
            // poll(2) with a timeout instead of a blocking read, so the reader thread notices close().
            let mut pfd = libc::pollfd { fd: self.dev.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
            }
            Ok(r > 0)
        }
    }

    impl TunDevice for UnixTun {
        fn recv_batch(&self, scratch: &mut [u8], bufs: &mut [Vec<u8>], sizes: &mut [usize], timeout: Duration) -> io::Result<usize> {
            // Under load a packet is usually waiting: try the read first and poll only when the
            // queue is empty.
            match self.read_once(scratch, bufs, sizes) {
                Ok(n) => return Ok(n),
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            if !self.poll(timeout)? {
                return Ok(0);
            }
            match self.read_once(scratch, bufs, sizes) {
                Ok(n) => Ok(n),
                Err(e) if would_block(&e) => Ok(0),
                Err(e) => Err(e),
            }
        }

        fn send(&self, packet: &[u8]) -> io::Result<usize> {
            #[cfg(target_os = "linux")]
            if self.offload {
                // A zeroed virtio_net_hdr: no GSO, no checksum offload requested.
                let hdr = [0u8; VNET_HDR_LEN];
                let iov = [
                    libc::iovec { iov_base: hdr.as_ptr() as *mut libc::c_void, iov_len: hdr.len() },
                    libc::iovec { iov_base: packet.as_ptr() as *mut libc::c_void, iov_len: packet.len() },
                ];
                let n = unsafe { libc::writev(self.dev.as_raw_fd(), iov.as_ptr(), 2) };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                return Ok((n as usize).saturating_sub(VNET_HDR_LEN));
            }
            self.dev.send(packet)
        }

        #[cfg(target_os = "linux")]
        fn send_batch(&self, w: &mut TunWriter, bufs: &mut [Vec<u8>]) -> io::Result<()> {
            if !self.offload {
                let mut res = Ok(());
                for b in bufs.iter() {
                    if let Err(e) = self.dev.send(&b[TUN_WRITE_OFFSET.min(b.len())..]) {
                        res = Err(e);
                    }
                }
                return res;
            }
            self.dev.send_multiple(&mut w.gro, bufs, TUN_WRITE_OFFSET).map(|_| ())
        }

        fn name(&self) -> String {
            self.name.clone()
        }

        fn offload(&self) -> bool {
            self.offload
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// RFC 1071 one's-complement sum, folded and inverted.
    fn checksum(parts: &[&[u8]]) -> [u8; 2] {
        let mut sum: u32 = 0;
        for p in parts {
            for c in p.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        (!(sum as u16)).to_be_bytes()
    }

    /// An IPv4 TCP segment (ACK, DF, no options) carrying `payload` at `seq`, checksums valid:
    /// what boringtun hands us after decrypting one datagram of a bulk transfer.
    fn tcp4(seq: u32, payload: &[u8]) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[100, 64, 0, 1]);
        p[16..20].copy_from_slice(&[100, 64, 0, 2]);
        let ip = checksum(&[&p[..20]]);
        p[10..12].copy_from_slice(&ip);
        p[20..22].copy_from_slice(&5201u16.to_be_bytes());
        p[22..24].copy_from_slice(&40000u16.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[28..32].copy_from_slice(&1u32.to_be_bytes());
        p[32] = 0x50;
        p[33] = 0x10;
        p[34..36].copy_from_slice(&0xffffu16.to_be_bytes());
        p[40..].copy_from_slice(payload);
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&p[12..20]);
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&((total - 20) as u16).to_be_bytes());
        let tcp = checksum(&[&pseudo, &p[20..]]);
        p[36..38].copy_from_slice(&tcp);
        p
    }

    /// Fills buffers as the receive path does (headroom, then the packet) and runs the GRO pass
    /// `send_batch` applies before writing.
    fn gro(mut bufs: Vec<Vec<u8>>, segments: &[Vec<u8>]) -> Vec<Vec<u8>> {
        for (b, seg) in bufs.iter_mut().zip(segments) {
            b.clear();
            b.resize(TUN_WRITE_OFFSET, 0);
            b.extend_from_slice(seg);
        }
        let mut w = TunWriter::new();
        w.gro.apply_gro(&mut bufs[..segments.len()], TUN_WRITE_OFFSET, false).unwrap();
        bufs
    }

    const SEG: usize = 1228; // MTU 1280 - 52 (IPv4 + TCP with timestamps), a typical tailnet MSS

    fn bulk(n: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
        let data: Vec<u8> = (0..n * SEG).map(|i| (i * 7 % 251) as u8).collect();
        let segs = data.chunks(SEG).enumerate().map(|(i, c)| tcp4(1000 + (i * SEG) as u32, c)).collect();
        (segs, data)
    }

    #[test]
    fn batch_slots_let_gro_merge_a_bulk_flow_into_one_super_packet() {
        let (segs, data) = bulk(40);
        let bufs = gro((0..64).map(|_| batch_slot()).collect(), &segs);
        // The first buffer now holds one TCP super-packet with every payload in order, and its
        // virtio header asks the kernel for TCPv4 segmentation at the original segment size.
        let merged = &bufs[0][TUN_WRITE_OFFSET..];
        assert_eq!(merged.len(), 40 + data.len());
        assert_eq!(&merged[40..], &data[..]);
        let hdr = tun_rs::VirtioNetHdr::decode(&bufs[0][TUN_WRITE_OFFSET - tun_rs::VIRTIO_NET_HDR_LEN..]).unwrap();
        assert_eq!(hdr.gso_type, tun_rs::VIRTIO_NET_HDR_GSO_TCPV4);
        assert_eq!(hdr.gso_size as usize, SEG);
        assert_eq!(hdr.flags & 1, 1, "VIRTIO_NET_HDR_F_NEEDS_CSUM (linux/virtio_net.h)");
    }

    #[test]
    fn mtu_sized_buffers_are_never_merged() {
        // What the receive path did before batch_slot: every segment stays its own TUN write.
        let (segs, _) = bulk(40);
        let bufs = gro((0..64).map(|_| Vec::with_capacity(1280 + 64 + TUN_WRITE_OFFSET)).collect(), &segs);
        assert_eq!(bufs[0].len(), TUN_WRITE_OFFSET + segs[0].len());
        let hdr = tun_rs::VirtioNetHdr::decode(&bufs[0][TUN_WRITE_OFFSET - tun_rs::VIRTIO_NET_HDR_LEN..]).unwrap();
        assert_eq!(hdr.gso_type, 0);
    }
}
