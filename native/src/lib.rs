//! meshtray-native: the Node-API data-plane addon (TUN + shared UDP socket + WireGuard via
//! boringtun). This file is only the JS binding; the work happens in `engine`.
//!
//! Every exported method validates its arguments and returns a JS error instead of panicking;
//! `catch_unwind` on each method turns an unexpected panic into a JS exception too.

mod allowed_ips;
mod classify;
mod counters;
mod engine;
// Reached only through the napi registration, which `cargo test` does not link: unused there.
#[cfg_attr(test, allow(dead_code))]
mod fd_api;
#[cfg(target_os = "linux")]
mod fdpass;
mod tun;

use engine::{Config, Engine, Events, PeerSpec};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

/// At most this many packets wait in each callback queue; beyond it packets are dropped and
/// counted (`dropJsQueueFull`) rather than letting a slow JS thread grow memory without bound.
const JS_QUEUE: usize = 4096;

// FnArgs spreads the tuple into separate JS arguments (a bare tuple arrives as one array).
type AddrArgs = FnArgs<(String, Buffer)>;
type KeyArgs = FnArgs<(Buffer, Buffer)>;
type AddrCb = ThreadsafeFunction<AddrArgs, (), AddrArgs, Status, false, true, JS_QUEUE>;
type PeerAddrArgs = FnArgs<(Buffer, String)>;
type PeerAddrCb = ThreadsafeFunction<PeerAddrArgs, (), PeerAddrArgs, Status, false, true, JS_QUEUE>;
type PacketCb = ThreadsafeFunction<Buffer, (), Buffer, Status, false, true, JS_QUEUE>;
type KeyCb = ThreadsafeFunction<KeyArgs, (), KeyArgs, Status, false, true, JS_QUEUE>;

#[derive(Default)]
struct JsEvents {
    disco: RwLock<Option<AddrCb>>,
    stun: RwLock<Option<AddrCb>>,
    derp: RwLock<Option<KeyCb>>,
    peer_addr: RwLock<Option<PeerAddrCb>>,
    intercept: RwLock<Option<PacketCb>>,
}

fn deliver<T: 'static + JsValuesTupleIntoVec>(
    slot: &RwLock<Option<ThreadsafeFunction<T, (), T, Status, false, true, JS_QUEUE>>>,
    value: impl FnOnce() -> T,
) -> std::result::Result<(), bool> {
    let g = slot.read().unwrap_or_else(|e| e.into_inner());
    let Some(f) = g.as_ref() else { return Err(true) };
    match f.call(value(), ThreadsafeFunctionCallMode::NonBlocking) {
        Status::Ok => Ok(()),
        _ => Err(false),
    }
}

impl Events for JsEvents {
    fn disco(&self, src: SocketAddr, data: &[u8]) -> std::result::Result<(), bool> {
        deliver(&self.disco, || (src.to_string(), Buffer::from(data.to_vec())).into())
    }
    fn stun(&self, src: SocketAddr, data: &[u8]) -> std::result::Result<(), bool> {
        deliver(&self.stun, || (src.to_string(), Buffer::from(data.to_vec())).into())
    }
    fn derp_send(&self, dst_key: [u8; 32], data: &[u8]) -> std::result::Result<(), bool> {
        deliver(&self.derp, || (Buffer::from(dst_key.to_vec()), Buffer::from(data.to_vec())).into())
    }
    fn peer_addr(&self, key: [u8; 32], addr: SocketAddr) -> std::result::Result<(), bool> {
        deliver(&self.peer_addr, || (Buffer::from(key.to_vec()), addr.to_string()).into())
    }
    fn intercept(&self, packet: &[u8]) -> std::result::Result<(), bool> {
        deliver(&self.intercept, || Buffer::from(packet.to_vec()))
    }
}

#[napi(object)]
pub struct DataPlaneOptions {
    pub tun_name: String,
    pub mtu: u32,
    pub listen_port: u32,
    /// The node private key (32 bytes): it is the WireGuard static key (dataplane.md §5).
    pub private_key: Buffer,
    /// CIDRs to put on the TUN, e.g. ["100.64.0.1/32", "fd7a:115c:a1e0::1/128"].
    pub addresses: Option<Vec<String>>,
    pub max_datagram: Option<u32>,
    /// Prefixes whose packets from the TUN go to onIntercept instead of a peer
    /// (e.g. ["100.100.100.100/32", "fd7a:115c:a1e0::53/128"] for MagicDNS).
    pub intercept: Option<Vec<String>>,
    /// Linux: SO_MARK for the shared socket, so policy rules route it outside the tunnel
    /// (Tailscale uses 0x80000, os-integration.md §1.4). Needs CAP_NET_ADMIN.
    pub fwmark: Option<u32>,
    /// Linux: SO_BINDTODEVICE fallback when marks are not available.
    pub bind_device: Option<String>,
    /// Linux TUN offloads (default true; silently off if the kernel refuses).
    pub offload: Option<bool>,
    /// Linux: adopt this TUN descriptor (from the privileged helper, see fd_api.rs) instead of
    /// creating a device. `tunName` is then only a label, no address or MTU is configured.
    /// The DataPlane owns it from the constructor call on (closed on close(), or at once if the
    /// constructor fails).
    pub tun_fd: Option<i32>,
    /// Linux: adopt this bound UDP socket (dual-stack or IPv4) instead of binding one;
    /// `listenPort`, `fwmark` and `bindDevice` are then ignored. Owned like `tunFd`.
    pub udp_fd: Option<i32>,
    /// Whether `tunFd` was opened with IFF_VNET_HDR. Such descriptors cannot be adopted (tun-rs
    /// `from_fd` cannot recover offload framing), so true is refused; open with offload: false.
    pub tun_offload: Option<bool>,
}

#[napi(object)]
pub struct PeerOptions {
    pub public_key: Buffer,
    pub allowed_ips: Vec<String>,
    /// "ip:port" or "[v6]:port" of the peer's current direct path, or null.
    pub endpoint: Option<String>,
    pub use_derp: bool,
    pub keepalive: Option<u32>,
}

#[napi(object)]
pub struct PeerStats {
    pub public_key: Buffer,
    pub endpoint: Option<String>,
    pub use_derp: bool,
    /// Milliseconds since the last completed handshake, or null if none.
    pub last_handshake_ms: Option<f64>,
    pub tx_bytes: f64,
    pub rx_bytes: f64,
    pub last_rx_addr: Option<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, msg.into())
}

fn key32(b: &[u8], what: &str) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(b).map_err(|_| invalid(format!("{what} must be 32 bytes, got {}", b.len())))
}

fn parse_addr(s: &str) -> Result<SocketAddr> {
    s.parse::<SocketAddr>().map_err(|_| invalid(format!("invalid address {s:?} (want ip:port or [ipv6]:port)")))
}

fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(Error::new(Status::GenericFailure, "internal error in meshtray-native (panic caught)")),
    }
}

#[napi]
pub struct DataPlane {
    engine: Mutex<Option<Arc<Engine>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    events: Arc<JsEvents>,
    port: u32,
    tun_name: String,
}

impl DataPlane {
    fn engine(&self) -> Result<Arc<Engine>> {
        self.engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Error::new(Status::GenericFailure, "data plane is closed"))
    }
}

#[napi]
impl DataPlane {
    #[napi(constructor)]
    pub fn new(opts: DataPlaneOptions) -> Result<Self> {
        guard(|| {
            // Take the handed-over descriptors first, so that every later failure closes them.
            #[cfg(target_os = "linux")]
            let (tun_fd, udp_fd) = {
                for (fd, what) in [(opts.tun_fd, "tunFd"), (opts.udp_fd, "udpFd")] {
                    if let Some(fd) = fd {
                        if !fd_api::is_open(fd) {
                            return Err(invalid(format!("{what} {fd} is not an open descriptor")));
                        }
                    }
                }
                // SAFETY: both numbers are open descriptors the caller hands over to us.
                unsafe { (opts.tun_fd.map(|f| fd_api::take(f)), opts.udp_fd.map(|f| fd_api::take(f))) }
            };
            #[cfg(not(target_os = "linux"))]
            if opts.tun_fd.is_some() || opts.udp_fd.is_some() {
                return Err(invalid(format!("tunFd/udpFd are unsupported on {}", std::env::consts::OS)));
            }
            if opts.tun_offload == Some(true) && opts.tun_fd.is_some() {
                return Err(invalid(
                    "tunFd with tunOffload: an IFF_VNET_HDR TUN descriptor cannot be adopted; open it with offload: false",
                ));
            }
            let private_key = key32(&opts.private_key, "privateKey")?;
            if !(576..=65_535).contains(&opts.mtu) {
                return Err(invalid(format!("mtu {} out of range 576..65535", opts.mtu)));
            }
            if opts.listen_port > 65_535 {
                return Err(invalid(format!("listenPort {} out of range", opts.listen_port)));
            }
            let mut addresses = Vec::new();
            for a in opts.addresses.unwrap_or_default() {
                let p = allowed_ips::Prefix::parse(&a).map_err(invalid)?;
                // Keep the host part: "100.64.0.1/10" means address 100.64.0.1 with a /10 route.
                let (ip, _) = a.split_once('/').unwrap_or((&a, ""));
                let ip: IpAddr = ip.parse().map_err(|_| invalid(format!("invalid address {a:?}")))?;
                addresses.push((ip, p.len));
            }
            let max_datagram = opts.max_datagram.unwrap_or(9216) as usize;
            if !(1280..=65_535).contains(&max_datagram) {
                return Err(invalid(format!("maxDatagram {max_datagram} out of range 1280..65535")));
            }
            let mut intercept = Vec::new();
            for p in opts.intercept.unwrap_or_default() {
                intercept.push(allowed_ips::Prefix::parse(&p).map_err(invalid)?);
            }
            let events = Arc::new(JsEvents::default());
            let cfg = Config {
                tun_name: opts.tun_name,
                mtu: opts.mtu as u16,
                listen_port: opts.listen_port as u16,
                private_key,
                addresses,
                intercept,
                bypass: engine::Bypass { fwmark: opts.fwmark, bind_device: opts.bind_device },
                offload: opts.offload.unwrap_or(true),
                max_datagram,
                #[cfg(target_os = "linux")]
                tun_fd,
                #[cfg(target_os = "linux")]
                udp_fd,
                #[cfg(all(unix, not(target_os = "linux")))]
                tun_fd: None,
                #[cfg(all(unix, not(target_os = "linux")))]
                udp_fd: None,
            };
            let (engine, threads) = Engine::start(cfg, events.clone())
                .map_err(|e| Error::new(Status::GenericFailure, format!("starting data plane: {e}")))?;
            Ok(DataPlane {
                port: engine.port as u32,
                tun_name: engine.tun_name(),
                engine: Mutex::new(Some(engine)),
                threads: Mutex::new(threads),
                events,
            })
        })
    }

    /// The UDP port actually bound (useful with listenPort 0).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    #[napi(getter)]
    pub fn tun_name(&self) -> String {
        self.tun_name.clone()
    }

    /// Whether the TUN runs with Linux offloads (GSO super-packets).
    #[napi(getter)]
    pub fn offload(&self) -> bool {
        self.engine().map(|e| e.tun_offload()).unwrap_or(false)
    }

    #[napi]
    pub fn set_peers(&self, peers: Vec<PeerOptions>) -> Result<()> {
        guard(|| {
            let engine = self.engine()?;
            let mut specs = Vec::with_capacity(peers.len());
            for p in peers {
                let public_key = key32(&p.public_key, "peer publicKey")?;
                let mut allowed_ips = Vec::with_capacity(p.allowed_ips.len());
                for a in &p.allowed_ips {
                    allowed_ips.push(allowed_ips::Prefix::parse(a).map_err(invalid)?);
                }
                let endpoint = match p.endpoint.as_deref() {
                    Some(s) => Some(parse_addr(s)?),
                    None => None,
                };
                let keepalive = match p.keepalive {
                    Some(0) | None => None,
                    Some(k) if k <= 65_535 => Some(k as u16),
                    Some(k) => return Err(invalid(format!("keepalive {k} out of range"))),
                };
                specs.push(PeerSpec { public_key, allowed_ips, endpoint, use_derp: p.use_derp, keepalive });
            }
            engine.set_peers(specs);
            Ok(())
        })
    }

    #[napi]
    pub fn inject_from_derp(&self, src_node_key: Buffer, data: Buffer) -> Result<()> {
        guard(|| {
            let engine = self.engine()?;
            let key = key32(&src_node_key, "srcNodeKey")?;
            engine.inject_from_derp(key, &data);
            Ok(())
        })
    }

    #[napi]
    pub fn send_udp(&self, addr: String, data: Buffer) -> Result<()> {
        guard(|| {
            let engine = self.engine()?;
            let dst = parse_addr(&addr)?;
            if data.len() > 65_507 {
                return Err(invalid(format!("datagram of {} bytes is too large", data.len())));
            }
            engine
                .send_udp(dst, &data)
                .map_err(|e| Error::new(Status::GenericFailure, format!("send to {dst}: {e}")))
        })
    }

    /// Writes one IP packet into the TUN (answers from the engine, e.g. MagicDNS).
    #[napi]
    pub fn write_to_tun(&self, packet: Buffer) -> Result<()> {
        guard(|| {
            let engine = self.engine()?;
            engine.write_to_tun(&packet).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidInput => invalid(format!("writeToTun: {e}")),
                _ => Error::new(Status::GenericFailure, format!("writeToTun: {e}")),
            })
        })
    }

    #[napi]
    pub fn on_peer_addr(&self, cb: PeerAddrCb) {
        *self.events.peer_addr.write().unwrap_or_else(|e| e.into_inner()) = Some(cb);
    }

    #[napi]
    pub fn on_intercept(&self, cb: PacketCb) {
        *self.events.intercept.write().unwrap_or_else(|e| e.into_inner()) = Some(cb);
    }

    #[napi]
    pub fn on_disco(&self, cb: AddrCb) {
        *self.events.disco.write().unwrap_or_else(|e| e.into_inner()) = Some(cb);
    }

    #[napi]
    pub fn on_stun(&self, cb: AddrCb) {
        *self.events.stun.write().unwrap_or_else(|e| e.into_inner()) = Some(cb);
    }

    #[napi]
    pub fn on_derp_send(&self, cb: KeyCb) {
        *self.events.derp.write().unwrap_or_else(|e| e.into_inner()) = Some(cb);
    }

    /// All counters as a flat object of camelCase names to numbers.
    #[napi]
    pub fn counters(&self, env: Env) -> Result<Object<'_>> {
        let snapshot = {
            let g = self.engine.lock().unwrap_or_else(|e| e.into_inner());
            match g.as_ref() {
                Some(e) => e.counters.snapshot(),
                None => counters::Counters::default().snapshot(),
            }
        };
        let mut o = Object::new(&env)?;
        for (name, v) in snapshot {
            o.set(camel(name), v as f64)?;
        }
        Ok(o)
    }

    #[napi]
    pub fn peer_stats(&self) -> Result<Vec<PeerStats>> {
        guard(|| {
            let engine = self.engine()?;
            Ok(engine
                .peer_status()
                .into_iter()
                .map(|p| PeerStats {
                    public_key: Buffer::from(p.key.to_vec()),
                    endpoint: p.endpoint.map(|e| e.to_string()),
                    use_derp: p.use_derp,
                    last_handshake_ms: p.last_handshake.map(|d| d.as_secs_f64() * 1000.0),
                    tx_bytes: p.tx_bytes as f64,
                    rx_bytes: p.rx_bytes as f64,
                    last_rx_addr: p.last_rx_addr.map(|a| a.to_string()),
                })
                .collect())
        })
    }

    /// Stops the threads, closes the socket(s) and removes the TUN device. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.shutdown();
    }
}

/// If JS drops the object without close(), the finalizer still stops the threads; otherwise
/// they would keep the TUN and the port for the life of the process.
impl Drop for DataPlane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl DataPlane {
    fn shutdown(&self) {
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(e) = engine.as_ref() {
            e.close();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        // Release the callbacks so nothing keeps a reference to JS functions.
        *self.events.disco.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.events.stun.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.events.derp.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.events.peer_addr.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.events.intercept.write().unwrap_or_else(|e| e.into_inner()) = None;
        drop(engine); // last reference: sockets and TUN fd close here
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut up = false;
    for ch in snake.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}
