//! Packet counters, updated lock-free from the I/O threads and read by `counters()`.
//! Every datagram or TUN packet that is not delivered is counted under exactly one drop reason.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        #[derive(Default)]
        pub struct Counters { $(pub $name: AtomicU64,)* }
        impl Counters {
            /// (name, value) pairs in declaration order, for the JS snapshot.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }
        }
    };
}

counters!(
    // WireGuard on the direct UDP path (never crosses into JS).
    direct_rx_packets, direct_rx_bytes, direct_tx_packets, direct_tx_bytes,
    // WireGuard relayed by DERP: tx = handed to JS via onDerpSend, rx = injectFromDerp.
    derp_rx_packets, derp_rx_bytes, derp_tx_packets, derp_tx_bytes,
    // IP packets read from / written to the TUN device.
    tun_rx_packets, tun_rx_bytes, tun_tx_packets, tun_tx_bytes,
    // Packets that crossed from native code into JavaScript, by kind.
    // (peer_addr fires once per change of a peer's source address; intercept = quad-100 etc.)
    js_disco, js_stun, js_derp_send, js_peer_addr, js_intercept,
    // Datagrams JavaScript sent out of the shared socket (disco, STUN), and IP packets it wrote to the TUN.
    udp_send_from_js, tun_from_js,
    // Drops by reason.
    drop_garbage, drop_truncated, drop_oversized, drop_unknown_peer, drop_decrypt,
    drop_replay, drop_no_session, drop_disallowed_source, drop_no_route, drop_no_path,
    drop_invalid_ip_packet, drop_js_queue_full, drop_no_handler, drop_send_error,
    drop_tun_write_error, drop_internal_error,
);

#[inline]
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

#[inline]
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}
