//! The data-plane engine: one UDP socket per address family, the TUN device, one boringtun `Tunn`
//! per peer, the AllowedIPs table and the receiver-index map. Direct-path WireGuard is handled
//! entirely here; disco and STUN datagrams, and WireGuard packets for DERP-only peers, are handed
//! to the host through `Events` (the JS callbacks). See shared/spec/dependencies.md §5.
//!
//! Threads: one UDP reader per socket, one TUN reader, one timer thread (boringtun's
//! `update_timers`, every 100 ms). All of them hold an `Arc<Engine>` and stop when `closed` is set.

use crate::allowed_ips::{AllowedIps, Prefix};
use crate::classify::{self, Kind, WgKind};
use crate::counters::{add, inc, Counters};
use crate::tun::{self, TunConfig, TunDevice, TunWriter, TUN_WRITE_OFFSET};
use boringtun::noise::errors::WireGuardError;
use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Packet, Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Large enough for any UDP payload (65,507 bytes over IPv4), so the kernel never truncates
/// silently and the size check in `classify` sees the real length.
const RECV_BUF: usize = 65_536;
/// Room for the largest decrypted or encrypted packet plus WireGuard's 32-byte overhead.
const WORK_BUF: usize = 65_536 + 256;
const POLL: Duration = Duration::from_millis(200);
const TIMER_TICK: Duration = Duration::from_millis(100);
/// Linux UDP GSO limits (include/linux/udp.h UDP_MAX_SEGMENTS; one UDP datagram's payload).
const GSO_MAX_SEGMENTS: usize = 64;
const GSO_MAX_BYTES: usize = 65_000;
/// Segments one offloaded TUN read may produce (tun-rs IDEAL_BATCH_SIZE).
const TUN_BATCH: usize = 128;
/// Handshake initiations per second before we demand cookies (boringtun device/mod.rs uses 100).
const HANDSHAKE_RATE_LIMIT: u64 = 100;
/// magicsock raises socket buffers to 7 MiB where allowed (dataplane.md §4.6).
const SOCKET_BUFFER: usize = 7 << 20;

/// Where native code hands packets to the host (JavaScript). Each returns whether the packet was
/// queued; `Err(true)` = no handler registered, `Err(false)` = queue full.
pub trait Events: Send + Sync {
    fn disco(&self, src: SocketAddr, data: &[u8]) -> Result<(), bool>;
    fn stun(&self, src: SocketAddr, data: &[u8]) -> Result<(), bool>;
    fn derp_send(&self, dst_key: [u8; 32], data: &[u8]) -> Result<(), bool>;
    /// A peer's WireGuard traffic now arrives from `addr` (first packet, or a change). This is
    /// how magicsock learns `address_map[src] = peer` from WireGuard itself (dataplane.md §4.7);
    /// it fires on changes only, never per packet.
    fn peer_addr(&self, key: [u8; 32], addr: SocketAddr) -> Result<(), bool>;
    /// An IP packet from the TUN addressed to an intercepted destination (quad-100 MagicDNS,
    /// as tailscale net/tstun/wrap.go intercepts it), for the engine to answer.
    fn intercept(&self, packet: &[u8]) -> Result<(), bool>;
}

pub struct Config {
    pub tun_name: String,
    pub mtu: u16,
    pub listen_port: u16,
    pub private_key: [u8; 32],
    pub addresses: Vec<(IpAddr, u8)>,
    /// Destinations whose TUN packets go to the host instead of a peer.
    pub intercept: Vec<Prefix>,
    pub bypass: Bypass,
    /// Linux TUN offloads (GSO super-packets in one read).
    pub offload: bool,
    /// Datagrams larger than this are dropped as oversized.
    pub max_datagram: usize,
    /// A TUN descriptor opened by someone else (the privileged helper): adopted instead of
    /// creating a device; `tun_name`, `mtu`-setting, `addresses` and `offload` are then unused.
    #[cfg(unix)]
    pub tun_fd: Option<std::os::fd::OwnedFd>,
    /// A bound UDP socket opened by someone else (dual-stack IPv6 or IPv4): adopted instead of
    /// binding; `listen_port` and `bypass` are then unused (the opener set SO_MARK).
    #[cfg(unix)]
    pub udp_fd: Option<std::os::fd::OwnedFd>,
}

#[derive(Clone)]
pub struct PeerSpec {
    pub public_key: [u8; 32],
    pub allowed_ips: Vec<Prefix>,
    pub endpoint: Option<SocketAddr>,
    pub use_derp: bool,
    pub keepalive: Option<u16>,
}

#[derive(Clone, Copy)]
struct Route {
    endpoint: Option<SocketAddr>,
    use_derp: bool,
}

pub struct Peer {
    pub key: [u8; 32],
    index: u32,
    tunn: Mutex<Tunn>,
    route: Mutex<Route>,
    keepalive: Option<u16>,
    last_rx_addr: Mutex<Option<SocketAddr>>,
}

pub struct PeerStatus {
    pub key: [u8; 32],
    pub endpoint: Option<SocketAddr>,
    pub use_derp: bool,
    pub last_handshake: Option<Duration>,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub last_rx_addr: Option<SocketAddr>,
}

#[derive(Default)]
struct PeerTable {
    by_key: HashMap<[u8; 32], Arc<Peer>>,
    by_index: HashMap<u32, Arc<Peer>>,
    allowed: AllowedIps<Arc<Peer>>,
}

pub struct Engine {
    static_private: StaticSecret,
    static_public: PublicKey,
    /// The IPv4 socket, or with `dual` the one dual-stack IPv6 socket that serves both families.
    udp4: UdpSocket,
    udp6: Option<UdpSocket>,
    /// `udp4` is an AF_INET6 socket with IPV6_V6ONLY off (an adopted descriptor): IPv4 peers are
    /// addressed as v4-mapped IPv6 (ipv6(7)), and their sources come back mapped (unmapped on receive).
    dual: bool,
    tun: Box<dyn TunDevice>,
    peers: RwLock<Arc<PeerTable>>,
    next_index: AtomicU32,
    closed: AtomicBool,
    max_datagram: usize,
    mtu: usize,
    intercept: AllowedIps<()>,
    /// UDP GSO still believed to work (cleared on the first EIO/EINVAL, as wireguard-go does).
    gso: AtomicBool,
    gso_buf: Mutex<Vec<u8>>,
    /// Checks mac1 (and, under load, mac2/cookies) of initiations before the costly X25519 that
    /// finds the initiator, as boringtun's own device does with one limiter for all peers.
    rate_limiter: RateLimiter,
    pub counters: Counters,
    events: Arc<dyn Events>,
    pub port: u16,
}

/// Decrypted packets from one burst of received datagrams, written to the TUN together (GRO).
struct TunBatch {
    bufs: Vec<Vec<u8>>,
    n: usize,
    bytes: usize,
    writer: TunWriter,
}

impl TunBatch {
    fn new(slots: usize) -> TunBatch {
        TunBatch {
            // Slots a coalesced super-packet can grow into (see tun::batch_slot): with MTU-sized
            // ones nothing was ever merged and every decrypted packet was its own TUN write.
            bufs: (0..slots).map(|_| tun::batch_slot()).collect(),
            n: 0,
            bytes: 0,
            writer: TunWriter::new(),
        }
    }

    /// Queues a copy of `pkt`; false if full.
    fn push(&mut self, pkt: &[u8]) -> bool {
        let Some(b) = self.bufs.get_mut(self.n) else { return false };
        b.clear();
        b.resize(TUN_WRITE_OFFSET, 0);
        b.extend_from_slice(pkt);
        self.n += 1;
        self.bytes += pkt.len();
        true
    }
}

/// A poisoned lock only means another packet's processing panicked (and was caught); the
/// protected state is still usable, so keep going rather than failing every later packet.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How the shared socket keeps its own packets out of the tunnel (os-integration.md §1.4;
/// tailscale net/netns/netns_linux.go): a firewall mark matched by policy rules, or binding to
/// the physical interface.
#[derive(Clone, Default)]
pub struct Bypass {
    pub fwmark: Option<u32>,
    pub bind_device: Option<String>,
}

/// Takes over a UDP socket bound elsewhere (the helper's openUdpFd): back to blocking reads with
/// the poll timeout the reader threads expect, GRO on, buffers raised where still allowed.
/// Returns the socket and whether it is dual-stack.
#[cfg(unix)]
fn adopt_udp(fd: std::os::fd::OwnedFd) -> io::Result<(UdpSocket, bool)> {
    let s = socket2::Socket::from(fd);
    let ty = s.r#type()?;
    if ty != socket2::Type::DGRAM {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the UDP descriptor is not a datagram socket"));
    }
    let local = s
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the UDP descriptor is not an IP socket"))?;
    if local.port() == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the UDP descriptor is not bound"));
    }
    let dual = match local {
        SocketAddr::V4(_) => false,
        SocketAddr::V6(_) if !s.only_v6()? => true,
        SocketAddr::V6(_) => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the UDP descriptor is IPv6-only; want dual-stack or IPv4"))
        }
    };
    // Only raise: the root helper may have set more than an unprivileged process may ask for
    // (SO_RCVBUFFORCE), and SO_RCVBUF would lower it back to net.core.rmem_max.
    if s.recv_buffer_size().unwrap_or(0) < SOCKET_BUFFER {
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    }
    if s.send_buffer_size().unwrap_or(0) < SOCKET_BUFFER {
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    }
    enable_gro(&s);
    s.set_nonblocking(false)?;
    let u: UdpSocket = s.into();
    u.set_read_timeout(Some(POLL))?;
    Ok((u, dual))
}

fn bind_udp(addr: SocketAddr, bypass: &Bypass) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Best effort: unprivileged processes may be capped by net.core.{r,w}mem_max.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    apply_bypass(&s, bypass)?;
    enable_gro(&s);
    s.bind(&addr.into())?;
    let u: UdpSocket = s.into();
    u.set_read_timeout(Some(POLL))?;
    Ok(u)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn apply_bypass(s: &socket2::Socket, b: &Bypass) -> io::Result<()> {
    if let Some(mark) = b.fwmark {
        s.set_mark(mark).map_err(|e| io::Error::new(e.kind(), format!("setting SO_MARK {mark:#x}: {e}")))?;
    }
    if let Some(dev) = &b.bind_device {
        s.bind_device(Some(dev.as_bytes()))
            .map_err(|e| io::Error::new(e.kind(), format!("SO_BINDTODEVICE {dev}: {e}")))?;
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn apply_bypass(_s: &socket2::Socket, b: &Bypass) -> io::Result<()> {
    // macOS (IP_BOUND_IF) and Windows (IP_UNICAST_IF) follow with their TUN support.
    if b.fwmark.is_some() || b.bind_device.is_some() {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "fwmark/bindDevice are Linux-only so far"));
    }
    Ok(())
}

impl Engine {
    pub fn start(mut cfg: Config, events: Arc<dyn Events>) -> io::Result<(Arc<Engine>, Vec<JoinHandle<()>>)> {
        #[cfg(unix)]
        let (adopted_tun, adopted_udp) = (cfg.tun_fd.take(), cfg.udp_fd.take());
        #[cfg(not(unix))]
        let (adopted_tun, adopted_udp): (Option<()>, Option<()>) = (None, None);
        let (udp4, udp6, dual) = match adopted_udp {
            #[cfg(unix)]
            Some(fd) => {
                let (u, dual) = adopt_udp(fd)?;
                (u, None, dual)
            }
            #[cfg(not(unix))]
            Some(()) => unreachable!(),
            None => {
                let udp4 = bind_udp(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), cfg.listen_port), &cfg.bypass)?;
                let port = udp4.local_addr()?.port();
                // IPv6 on the same port if the host has it; a v4-only namespace is fine.
                let udp6 = bind_udp(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), &cfg.bypass).ok();
                (udp4, udp6, false)
            }
        };
        let port = udp4.local_addr()?.port();
        let tun = match adopted_tun {
            #[cfg(target_os = "linux")]
            Some(fd) => tun::adopt(fd)?,
            #[cfg(not(target_os = "linux"))]
            Some(_) => return Err(io::Error::new(io::ErrorKind::Unsupported, "adopting a TUN descriptor is Linux-only so far")),
            None => tun::open(&TunConfig { name: cfg.tun_name.clone(), mtu: cfg.mtu, addresses: cfg.addresses.clone(), offload: cfg.offload })?,
        };
        let static_private = StaticSecret::from(cfg.private_key);
        let static_public = PublicKey::from(&static_private);
        let seed = random_u32() & 0x00ff_ffff;
        let engine = Arc::new(Engine {
            static_private,
            static_public,
            udp4,
            udp6,
            dual,
            tun,
            peers: RwLock::new(Arc::new(PeerTable::default())),
            next_index: AtomicU32::new(seed),
            closed: AtomicBool::new(false),
            max_datagram: cfg.max_datagram,
            mtu: cfg.mtu as usize,
            gso: AtomicBool::new(cfg!(target_os = "linux")),
            gso_buf: Mutex::new(Vec::with_capacity(GSO_MAX_BYTES)),
            intercept: {
                let mut t = AllowedIps::default();
                for p in &cfg.intercept {
                    t.insert(*p, ());
                }
                t
            },
            rate_limiter: RateLimiter::new(&static_public, HANDSHAKE_RATE_LIMIT),
            counters: Counters::default(),
            events,
            port,
        });
        let mut threads = Vec::new();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| std::thread::Builder::new().name(name.into()).spawn(f);
        let e = engine.clone();
        threads.push(spawn("meshtray-udp4", Box::new(move || e.udp_loop(false)))?);
        if engine.udp6.is_some() {
            let e = engine.clone();
            threads.push(spawn("meshtray-udp6", Box::new(move || e.udp_loop(true)))?);
        }
        let e = engine.clone();
        threads.push(spawn("meshtray-tun", Box::new(move || e.tun_loop()))?);
        let e = engine.clone();
        threads.push(spawn("meshtray-timers", Box::new(move || e.timer_loop()))?);
        Ok((engine, threads))
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn tun_name(&self) -> String {
        self.tun.name()
    }

    fn table(&self) -> Arc<PeerTable> {
        self.peers.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn alloc_index(&self, table: &PeerTable, taken: &HashMap<u32, Arc<Peer>>) -> u32 {
        // boringtun shifts the index left by 8 to number sessions (noise/mod.rs `Tunn::new`), so it
        // must fit in 24 bits; receiver index >> 8 then names the peer.
        loop {
            let i = self.next_index.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
            if !table.by_index.contains_key(&i) && !taken.contains_key(&i) {
                return i;
            }
        }
    }

    /// Replaces the peer set. Peers whose key is unchanged keep their `Tunn` (and so their
    /// sessions and handshake state); only their routes, allowed IPs and keep-alive change.
    pub fn set_peers(&self, specs: Vec<PeerSpec>) {
        let old = self.table();
        let mut next = PeerTable::default();
        for s in specs {
            if next.by_key.contains_key(&s.public_key) {
                continue; // a duplicate key in the input: first one wins
            }
            let peer = match old.by_key.get(&s.public_key) {
                Some(p) if p.keepalive == s.keepalive => {
                    *lock(&p.route) = Route { endpoint: s.endpoint, use_derp: s.use_derp };
                    p.clone()
                }
                existing => {
                    // New peer, or a keep-alive change (boringtun fixes keep-alive at creation):
                    // a new Tunn. For a keep-alive change the old index is kept so in-flight
                    // packets still find the peer; its sessions are renegotiated.
                    let index = match existing {
                        Some(p) => p.index,
                        None => self.alloc_index(&old, &next.by_index),
                    };
                    let tunn = Tunn::new(
                        self.static_private.clone(),
                        PublicKey::from(s.public_key),
                        None,
                        s.keepalive,
                        index,
                        None,
                    );
                    Arc::new(Peer {
                        key: s.public_key,
                        index,
                        tunn: Mutex::new(tunn),
                        route: Mutex::new(Route { endpoint: s.endpoint, use_derp: s.use_derp }),
                        keepalive: s.keepalive,
                        last_rx_addr: Mutex::new(None),
                    })
                }
            };
            for p in &s.allowed_ips {
                next.allowed.insert(*p, peer.clone());
            }
            next.by_index.insert(peer.index, peer.clone());
            next.by_key.insert(peer.key, peer);
        }
        *self.peers.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    pub fn peer_status(&self) -> Vec<PeerStatus> {
        let t = self.table();
        let mut v: Vec<PeerStatus> = t
            .by_key
            .values()
            .map(|p| {
                let (hs, tx, rx, _, _) = lock(&p.tunn).stats();
                let r = *lock(&p.route);
                PeerStatus {
                    key: p.key,
                    endpoint: r.endpoint,
                    use_derp: r.use_derp,
                    last_handshake: hs,
                    tx_bytes: tx as u64,
                    rx_bytes: rx as u64,
                    last_rx_addr: *lock(&p.last_rx_addr),
                }
            })
            .collect();
        v.sort_by_key(|p| p.key);
        v
    }

    /// Sends bytes from JS (disco, STUN) out of the shared socket.
    pub fn send_udp(&self, dst: SocketAddr, data: &[u8]) -> io::Result<()> {
        let sock = self.socket_for(dst).ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no IPv6 socket"))?;
        sock.send_to(data, self.wire_addr(dst))?;
        inc(&self.counters.udp_send_from_js);
        Ok(())
    }

    fn socket_for(&self, dst: SocketAddr) -> Option<&UdpSocket> {
        if dst.is_ipv4() || self.dual { Some(&self.udp4) } else { self.udp6.as_ref() }
    }

    /// The destination as the socket from `socket_for` wants it: on a dual-stack socket an IPv4
    /// peer is ::ffff:a.b.c.d (ipv6(7) "IPv4-mapped").
    fn wire_addr(&self, dst: SocketAddr) -> SocketAddr {
        match dst {
            SocketAddr::V4(a) if self.dual => SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()),
            _ => dst,
        }
    }

    /// Writes an IP packet from the host (e.g. a MagicDNS answer) into the TUN.
    pub fn write_to_tun(&self, packet: &[u8]) -> io::Result<()> {
        if Tunn::dst_address(packet).is_none() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an IPv4/IPv6 packet"));
        }
        self.tun.send(packet)?;
        inc(&self.counters.tun_from_js);
        Ok(())
    }

    /// A WireGuard packet that arrived over DERP from `src_key`.
    pub fn inject_from_derp(&self, src_key: [u8; 32], data: &[u8]) {
        let c = &self.counters;
        let kind = classify::classify(data, self.max_datagram.max(64 * 1024));
        let Kind::WireGuard(_) = kind else {
            match kind {
                Kind::Truncated => inc(&c.drop_truncated),
                Kind::Oversized => inc(&c.drop_oversized),
                // Disco and STUN never belong here: the engine keeps disco from DERP in JS.
                _ => inc(&c.drop_garbage),
            }
            return;
        };
        let t = self.table();
        let Some(peer) = t.by_key.get(&src_key).cloned() else {
            inc(&c.drop_unknown_peer);
            return;
        };
        thread_local! {
            // DERP packets are injected on the JS thread: reuse one buffer instead of 64 KiB per call.
            static WORK: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; WORK_BUF]);
        }
        self.guarded(|| {
            WORK.with(|w| {
                let mut buf = w.borrow_mut();
                self.decapsulate(&t, &peer, None, data, &mut buf, true, None);
            })
        });
    }

    /// Runs one packet's processing, turning a panic (a bug, or a boringtun edge case) into a
    /// counted drop instead of a dead I/O thread or an abort across the FFI boundary.
    fn guarded<F: FnOnce()>(&self, f: F) {
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            inc(&self.counters.drop_internal_error);
        }
    }

    fn udp_loop(self: Arc<Self>, v6: bool) {
        let sock = if v6 { self.udp6.as_ref() } else { Some(&self.udp4) };
        let Some(sock) = sock else { return };
        let mut buf = vec![0u8; RECV_BUF];
        let mut work = vec![0u8; WORK_BUF];
        let mut batch = TunBatch::new(GSO_MAX_SEGMENTS);
        while !self.is_closed() {
            match recv_gro(sock, &mut buf) {
                Ok((n, src, seg)) => {
                    // With UDP GRO the kernel may hand us several datagrams of one flow glued
                    // together (all `seg` bytes long but the last); each is its own packet, and
                    // their plaintexts go to the TUN in one batch (coalesced again by TUN GRO).
                    let data = &buf[..n];
                    let step = if seg > 0 && seg < n { seg } else { n.max(1) };
                    for d in data.chunks(step) {
                        self.guarded(|| self.on_udp(src, d, &mut work, Some(&mut batch)));
                    }
                    self.guarded(|| self.flush_tun_batch(&mut batch));
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {}
                // ICMP port unreachable for an earlier send shows up as ECONNREFUSED on Linux;
                // it says nothing about this socket, keep reading.
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    fn flush_tun_batch(&self, b: &mut TunBatch) {
        if b.n == 0 {
            return;
        }
        let c = &self.counters;
        let (n, bytes) = (b.n, b.bytes);
        b.n = 0;
        b.bytes = 0;
        match self.tun.send_batch(&mut b.writer, &mut b.bufs[..n]) {
            Ok(()) => {
                add(&c.tun_tx_packets, n as u64);
                add(&c.tun_tx_bytes, bytes as u64);
            }
            Err(_) => add(&c.drop_tun_write_error, n as u64),
        }
    }

    fn on_udp(&self, src: SocketAddr, data: &[u8], work: &mut [u8], batch: Option<&mut TunBatch>) {
        let c = &self.counters;
        match classify::classify(data, self.max_datagram) {
            Kind::Stun => match self.events.stun(src, data) {
                Ok(()) => inc(&c.js_stun),
                Err(no_handler) => inc(if no_handler { &c.drop_no_handler } else { &c.drop_js_queue_full }),
            },
            Kind::Disco => match self.events.disco(src, data) {
                Ok(()) => inc(&c.js_disco),
                Err(no_handler) => inc(if no_handler { &c.drop_no_handler } else { &c.drop_js_queue_full }),
            },
            Kind::WireGuard(kind) => {
                let t = self.table();
                let peer = match kind {
                    WgKind::HandshakeInit => self.initiator(&t, src, data),
                    _ => classify::receiver_index(kind, data).and_then(|i| t.by_index.get(&(i >> 8)).cloned()),
                };
                match peer {
                    Some(p) => self.decapsulate(&t, &p, Some(src), data, work, false, batch),
                    None => inc(&c.drop_unknown_peer),
                }
            }
            Kind::Truncated => inc(&c.drop_truncated),
            Kind::Oversized => inc(&c.drop_oversized),
            Kind::Garbage => inc(&c.drop_garbage),
        }
    }

    /// A handshake initiation names no session of ours: decrypt the initiator's static key with our
    /// private key to find the peer (boringtun `parse_handshake_anon`; dataplane.md §4.7).
    fn initiator(&self, t: &PeerTable, src: SocketAddr, data: &[u8]) -> Option<Arc<Peer>> {
        let mut cookie = [0u8; 64];
        let init = match self.rate_limiter.verify_packet(Some(src.ip()), data, &mut cookie) {
            Ok(Packet::HandshakeInit(init)) => init,
            // Under load and without a valid mac2: answer with a cookie reply, do no DH.
            Err(TunnResult::WriteToNetwork(reply)) => {
                if let Some(sock) = self.socket_for(src) {
                    let _ = sock.send_to(reply, self.wire_addr(src));
                }
                return None;
            }
            // Bad mac1: not sealed for our key.
            _ => return None,
        };
        let half = parse_handshake_anon(&self.static_private, &self.static_public, &init).ok()?;
        t.by_key.get(&half.peer_static_public).cloned()
    }

    #[allow(clippy::too_many_arguments)]
    fn decapsulate(&self, t: &PeerTable, peer: &Arc<Peer>, src: Option<SocketAddr>, data: &[u8], work: &mut [u8], via_derp: bool, batch: Option<&mut TunBatch>) {
        let c = &self.counters;
        let mut tunn = lock(&peer.tunn);
        let res = tunn.decapsulate(src.map(|s| s.ip()), data, work);
        let ok = !matches!(res, TunnResult::Err(_));
        if ok {
            if via_derp {
                inc(&c.derp_rx_packets);
                add(&c.derp_rx_bytes, data.len() as u64);
            } else {
                inc(&c.direct_rx_packets);
                add(&c.direct_rx_bytes, data.len() as u64);
                let mut last = lock(&peer.last_rx_addr);
                if *last != src {
                    *last = src;
                    drop(last);
                    if let Some(a) = src {
                        match self.events.peer_addr(peer.key, a) {
                            Ok(()) => inc(&c.js_peer_addr),
                            Err(no_handler) => {
                                if !no_handler {
                                    inc(&c.drop_js_queue_full)
                                }
                            }
                        }
                    }
                }
            }
        }
        match res {
            TunnResult::Done => {}
            TunnResult::WriteToNetwork(out) => {
                self.send_to_peer(peer, out);
                // After a handshake, boringtun has queued packets to flush: repeat with an empty
                // datagram until Done (noise/mod.rs `decapsulate` docs).
                while let TunnResult::WriteToNetwork(out) = tunn.decapsulate(None, &[], work) {
                    self.send_to_peer(peer, out);
                }
            }
            // The result lives in `work`, not in the Tunn: release the peer lock before the TUN
            // write so the other direction's thread is not kept waiting on a syscall.
            TunnResult::WriteToTunnelV4(pkt, from) => {
                drop(tunn);
                self.to_tun(t, peer, pkt, IpAddr::V4(from), batch)
            }
            TunnResult::WriteToTunnelV6(pkt, from) => {
                drop(tunn);
                self.to_tun(t, peer, pkt, IpAddr::V6(from), batch)
            }
            TunnResult::Err(e) => inc(match e {
                WireGuardError::DuplicateCounter | WireGuardError::InvalidCounter => &c.drop_replay,
                WireGuardError::NoCurrentSession => &c.drop_no_session,
                WireGuardError::InvalidPacket | WireGuardError::IncorrectPacketLength => &c.drop_garbage,
                _ => &c.drop_decrypt,
            }),
        }
    }

    /// Cryptokey routing on receive: the inner source must be one of the sender's allowed IPs.
    fn to_tun(&self, t: &PeerTable, peer: &Arc<Peer>, pkt: &[u8], from: IpAddr, batch: Option<&mut TunBatch>) {
        let c = &self.counters;
        match t.allowed.lookup(from) {
            Some(p) if Arc::ptr_eq(p, peer) => {}
            _ => {
                inc(&c.drop_disallowed_source);
                return;
            }
        }
        if let Some(b) = batch {
            if b.push(pkt) {
                return; // written by flush_tun_batch
            }
        }
        match self.tun.send(pkt) {
            Ok(_) => {
                inc(&c.tun_tx_packets);
                add(&c.tun_tx_bytes, pkt.len() as u64);
            }
            Err(_) => inc(&c.drop_tun_write_error),
        }
    }

    /// Sends an encrypted WireGuard message the way the peer is reachable now: to its direct
    /// endpoint if it has one, and/or through JS for DERP. Both at once while the engine has not
    /// yet trusted the direct path is what magicsock does (endpoint.go `send`: UDP and DERP).
    fn send_to_peer(&self, peer: &Peer, data: &[u8]) {
        let _ = self.route_out(peer, data, false);
    }

    /// `send_to_peer`, optionally leaving the direct UDP send to the caller (returned address),
    /// so a batch of packets can leave in one sendmmsg.
    fn route_out(&self, peer: &Peer, data: &[u8], defer_direct: bool) -> Option<SocketAddr> {
        let c = &self.counters;
        let r = *lock(&peer.route);
        let mut sent = false;
        let mut deferred = None;
        if let (Some(ep), true) = (r.endpoint, defer_direct) {
            deferred = Some(ep);
            sent = true;
        } else if let Some(ep) = r.endpoint {
            match self.socket_for(ep).map(|s| s.send_to(data, self.wire_addr(ep))) {
                Some(Ok(_)) => {
                    inc(&c.direct_tx_packets);
                    add(&c.direct_tx_bytes, data.len() as u64);
                    sent = true;
                }
                _ => inc(&c.drop_send_error),
            }
        }
        if r.use_derp {
            match self.events.derp_send(peer.key, data) {
                Ok(()) => {
                    inc(&c.js_derp_send);
                    inc(&c.derp_tx_packets);
                    add(&c.derp_tx_bytes, data.len() as u64);
                    sent = true;
                }
                Err(no_handler) => inc(if no_handler { &c.drop_no_handler } else { &c.drop_js_queue_full }),
            }
        }
        if !sent && r.endpoint.is_none() && !r.use_derp {
            inc(&c.drop_no_path);
        }
        deferred
    }

    /// Sends encrypted packets to direct endpoints, batched per socket (sendmmsg on Linux).
    fn send_direct_batch(&self, items: &[(SocketAddr, usize, usize)], outs: &[Vec<u8>]) {
        let c = &self.counters;
        for v6 in [false, true] {
            let group: Vec<(SocketAddr, &[u8])> = items
                .iter()
                .filter(|(ep, _, _)| ep.is_ipv6() == v6)
                .map(|&(ep, idx, len)| (self.wire_addr(ep), &outs[idx][..len]))
                .collect();
            if group.is_empty() {
                continue;
            }
            let Some(sock) = self.socket_for(group[0].0) else {
                add(&c.drop_send_error, group.len() as u64);
                continue;
            };
            // Runs of equal-size packets to one endpoint (the segments of one TCP super-packet)
            // leave as one UDP GSO send; the rest, and everything if GSO fails, via sendmmsg.
            let mut singles: Vec<(SocketAddr, &[u8])> = Vec::with_capacity(group.len());
            let mut i = 0;
            while i < group.len() {
                let (ep, first) = group[i];
                let mut j = i + 1;
                let mut total = first.len();
                while j < group.len()
                    && j - i < GSO_MAX_SEGMENTS
                    && group[j].0 == ep
                    && group[j].1.len() <= first.len()
                    && total + group[j].1.len() <= GSO_MAX_BYTES
                {
                    total += group[j].1.len();
                    let short = group[j].1.len() < first.len();
                    j += 1;
                    if short {
                        break; // only the last segment may be shorter
                    }
                }
                let run = &group[i..j];
                if run.len() >= 2 && self.gso.load(Ordering::Relaxed) {
                    match send_gso(sock, ep, run, &mut self.gso_buf.lock().unwrap_or_else(|e| e.into_inner())) {
                        Ok(()) => {
                            add(&c.direct_tx_packets, run.len() as u64);
                            add(&c.direct_tx_bytes, total as u64);
                        }
                        Err(e) if gso_unsupported(&e) => {
                            self.gso.store(false, Ordering::Relaxed);
                            singles.extend_from_slice(run);
                        }
                        Err(_) => add(&c.drop_send_error, run.len() as u64),
                    }
                } else {
                    singles.extend_from_slice(run);
                }
                i = j;
            }
            if singles.is_empty() {
                continue;
            }
            let sent = send_many(sock, &singles);
            let bytes: usize = singles.iter().take(sent).map(|(_, d)| d.len()).sum();
            add(&c.direct_tx_packets, sent as u64);
            add(&c.direct_tx_bytes, bytes as u64);
            add(&c.drop_send_error, (singles.len() - sent) as u64);
        }
    }

    fn tun_loop(self: Arc<Self>) {
        // With offloads one read can yield up to 64 KiB / MSS segments; tun-rs wants room for
        // IDEAL_BATCH_SIZE (128) of them. Without offloads only the first buffer is used.
        let mut scratch = vec![0u8; RECV_BUF + 64];
        // Segments never exceed the MTU; the first buffer also serves plain (non-offload) reads.
        let seg = self.mtu + 256;
        let mut bufs: Vec<Vec<u8>> = (0..TUN_BATCH).map(|i| vec![0u8; if i == 0 { RECV_BUF } else { seg }]).collect();
        let mut sizes = vec![0usize; TUN_BATCH];
        // One output buffer per packet of a batch, so all of them can leave in one sendmmsg.
        let mut outs: Vec<Vec<u8>> = (0..TUN_BATCH).map(|i| vec![0u8; if i == 0 { WORK_BUF } else { seg + 64 }]).collect();
        let mut pending: Vec<(SocketAddr, usize, usize)> = Vec::with_capacity(TUN_BATCH);
        while !self.is_closed() {
            match self.tun.recv_batch(&mut scratch, &mut bufs, &mut sizes, POLL) {
                Ok(n) => {
                    pending.clear();
                    for (i, (buf, &size)) in bufs.iter().zip(sizes.iter()).take(n).enumerate() {
                        let pkt = &buf[..size.min(buf.len())];
                        let out = &mut outs[i];
                        let mut r = None;
                        self.guarded(|| r = self.on_tun(pkt, out));
                        if let Some((ep, len)) = r {
                            pending.push((ep, i, len));
                        }
                    }
                    if !pending.is_empty() {
                        self.guarded(|| self.send_direct_batch(&pending, &outs));
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    pub fn tun_offload(&self) -> bool {
        self.tun.offload()
    }

    /// Encrypts one TUN packet into `work`. DERP sends happen here; a direct send is returned
    /// (endpoint, length) for the caller's batch.
    fn on_tun(&self, pkt: &[u8], work: &mut [u8]) -> Option<(SocketAddr, usize)> {
        let c = &self.counters;
        inc(&c.tun_rx_packets);
        add(&c.tun_rx_bytes, pkt.len() as u64);
        let Some(dst) = Tunn::dst_address(pkt) else {
            inc(&c.drop_invalid_ip_packet);
            return None;
        };
        if self.intercept.lookup(dst).is_some() {
            match self.events.intercept(pkt) {
                Ok(()) => inc(&c.js_intercept),
                Err(no_handler) => inc(if no_handler { &c.drop_no_handler } else { &c.drop_js_queue_full }),
            }
            return None;
        }
        let t = self.table();
        let Some(peer) = t.allowed.lookup(dst).cloned() else {
            // Normal for e.g. router solicitations the kernel sends on a fresh interface.
            inc(&c.drop_no_route);
            return None;
        };
        let mut tunn = lock(&peer.tunn);
        match tunn.encapsulate(pkt, work) {
            TunnResult::WriteToNetwork(out) => {
                drop(tunn); // send without holding the peer lock (see decapsulate)
                let len = out.len();
                self.route_out(&peer, out, true).map(|ep| (ep, len))
            }
            TunnResult::Done => None, // queued until the handshake completes
            _ => {
                inc(&c.drop_internal_error);
                None
            }
        }
    }

    fn timer_loop(self: Arc<Self>) {
        let mut work = vec![0u8; WORK_BUF];
        let mut next = Instant::now();
        let mut last_reset = Instant::now();
        while !self.is_closed() {
            next += TIMER_TICK;
            if last_reset.elapsed() >= Duration::from_secs(1) {
                self.rate_limiter.reset_count();
                last_reset = Instant::now();
            }
            let t = self.table();
            for peer in t.by_key.values() {
                self.guarded(|| {
                    let mut tunn = lock(&peer.tunn);
                    // ConnectionExpired and similar are states, not failures: boringtun starts a
                    // fresh handshake on the next outbound packet.
                    if let TunnResult::WriteToNetwork(out) = tunn.update_timers(&mut work) {
                        self.send_to_peer(peer, out);
                    }
                });
            }
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                next = now;
            }
        }
    }
}

#[cfg(target_os = "linux")]
const UDP_SEGMENT: libc::c_int = 103; // linux/udp.h
#[cfg(target_os = "linux")]
const UDP_GRO: libc::c_int = 104; // linux/udp.h

/// Best effort: ask the kernel to coalesce received datagrams of one flow (udp(7) UDP_GRO),
/// which tailscaled and wireguard-go also do; recv_gro splits them again.
#[cfg(target_os = "linux")]
fn enable_gro(s: &socket2::Socket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a live c_int and its size.
    unsafe {
        libc::setsockopt(s.as_raw_fd(), libc::SOL_UDP, UDP_GRO, &one as *const _ as *const libc::c_void, std::mem::size_of::<libc::c_int>() as libc::socklen_t);
    }
}

#[cfg(not(target_os = "linux"))]
fn enable_gro(_s: &socket2::Socket) {}

/// recvmsg returning (bytes, source, GRO segment size or 0).
#[cfg(target_os = "linux")]
fn recv_gro(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, usize)> {
    use std::os::fd::AsRawFd;
    // SAFETY: all pointers refer to locals that outlive recvmsg; cmsgs are walked with the libc
    // macros within `control`; the source address is read according to its family.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut control = [0u64; 8];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = &mut storage as *mut _ as *mut libc::c_void;
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut seg = 0usize;
        let mut cm = libc::CMSG_FIRSTHDR(&msg);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_UDP && (*cm).cmsg_type == UDP_GRO {
                seg = std::ptr::read_unaligned(libc::CMSG_DATA(cm) as *const libc::c_int).max(0) as usize;
            }
            cm = libc::CMSG_NXTHDR(&msg, cm);
        }
        let src = match storage.ss_family as libc::c_int {
            libc::AF_INET => {
                let a = &*(&storage as *const _ as *const libc::sockaddr_in);
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))), u16::from_be(a.sin_port))
            }
            libc::AF_INET6 => {
                let a = &*(&storage as *const _ as *const libc::sockaddr_in6);
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                match ip.to_ipv4_mapped() {
                    // A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d; the engine and
                    // JS know peers by their plain IPv4 address (an IPv6-only socket never sees these).
                    Some(v4) => SocketAddr::new(IpAddr::V4(v4), u16::from_be(a.sin6_port)),
                    None => SocketAddr::V6(std::net::SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id)),
                }
            }
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "unknown address family")),
        };
        Ok((n as usize, src, seg))
    }
}

#[cfg(not(target_os = "linux"))]
fn recv_gro(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, usize)> {
    let (n, src) = sock.recv_from(buf)?;
    Ok((n, src, 0))
}

/// One sendmsg carrying `run` (equal-size datagrams, the last may be shorter) for the kernel to
/// split: UDP_SEGMENT cmsg with the segment size (udp(7) "UDP_SEGMENT"; wireguard-go's
/// conn/gso_linux.go does the same).
#[cfg(target_os = "linux")]
fn send_gso(sock: &UdpSocket, dst: SocketAddr, run: &[(SocketAddr, &[u8])], buf: &mut Vec<u8>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let seg = run[0].1.len();
    buf.clear();
    for (_, d) in run {
        buf.extend_from_slice(d);
    }
    let addr = socket2::SockAddr::from(dst);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    // Room for one cmsg carrying a u16, aligned as CMSG_SPACE requires.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain data; all pointers refer to locals that outlive sendmsg, and the
    // CMSG macros stay within `control` (CMSG_SPACE(2) <= 32 bytes).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = addr.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = addr.len();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = libc::CMSG_SPACE(2) as _;
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_UDP;
        (*cm).cmsg_type = UDP_SEGMENT;
        (*cm).cmsg_len = libc::CMSG_LEN(2) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cm) as *mut u16, seg as u16);
        loop {
            let r = libc::sendmsg(sock.as_raw_fd(), &msg, 0);
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn send_gso(_sock: &UdpSocket, _dst: SocketAddr, _run: &[(SocketAddr, &[u8])], _buf: &mut Vec<u8>) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Errors meaning "this kernel/NIC cannot do UDP GSO" rather than "this send failed".
fn gso_unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::EINVAL) | Some(libc::ENOPROTOOPT) | Some(libc::EOPNOTSUPP))
        || e.kind() == io::ErrorKind::Unsupported
}

/// Sends datagrams from one socket; returns how many left. Linux: sendmmsg, one syscall for the
/// batch (wireguard-go and tailscaled batch the same way); elsewhere one send_to each.
#[cfg(target_os = "linux")]
fn send_many(sock: &UdpSocket, items: &[(SocketAddr, &[u8])]) -> usize {
    use std::os::fd::AsRawFd;
    let addrs: Vec<socket2::SockAddr> = items.iter().map(|(a, _)| socket2::SockAddr::from(*a)).collect();
    let mut iovs: Vec<libc::iovec> = items
        .iter()
        .map(|(_, d)| libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() })
        .collect();
    // SAFETY: mmsghdr is plain data; every pointer below refers to `addrs`/`iovs`, which outlive the call.
    let mut msgs: Vec<libc::mmsghdr> = (0..items.len()).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (i, m) in msgs.iter_mut().enumerate() {
        m.msg_hdr.msg_name = addrs[i].as_ptr() as *mut libc::c_void;
        m.msg_hdr.msg_namelen = addrs[i].len();
        m.msg_hdr.msg_iov = &mut iovs[i];
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut done = 0usize;
    let mut failed = 0usize;
    while done < msgs.len() {
        let rest = &mut msgs[done..];
        let r = unsafe { libc::sendmmsg(sock.as_raw_fd(), rest.as_mut_ptr(), rest.len() as libc::c_uint, 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Skip the datagram the kernel refused (e.g. EMSGSIZE, unreachable) and go on.
            done += 1;
            failed += 1;
            continue;
        }
        if r == 0 {
            break;
        }
        done += r as usize;
    }
    done.min(items.len()) - failed.min(done)
}

#[cfg(not(target_os = "linux"))]
fn send_many(sock: &UdpSocket, items: &[(SocketAddr, &[u8])]) -> usize {
    items.iter().filter(|(a, d)| sock.send_to(d, *a).is_ok()).count()
}

/// A random start for receiver indices (so restarts do not reuse the previous run's indices),
/// from the process's randomly keyed SipHash; portable, and no extra crate.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish() as u32
}
