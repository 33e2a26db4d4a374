//! Demultiplexing of datagrams that arrive on the shared UDP socket.
//!
//! One socket carries WireGuard, disco and STUN so that the NAT mapping STUN and disco discover is
//! the one WireGuard uses (see tailscale wgengine/magicsock/magicsock.go `packetLooksLike`, and
//! shared/spec/dataplane.md §4.6). The checks are ordered as magicsock orders them: STUN, disco,
//! WireGuard. Anything else is garbage. Unlike magicsock, which hands every non-STUN, non-disco
//! datagram to wireguard-go, we check WireGuard's fixed message sizes here so truncated packets are
//! counted under their own reason before they reach boringtun.

/// Disco magic "TS💬" (tailscale disco/disco.go `Magic`).
pub const DISCO_MAGIC: [u8; 6] = [0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac];
/// magic(6) + sender disco key(32) + nonce(24): the smallest datagram that can hold a disco box
/// header (disco/disco.go `headerLen`). A box also carries a 16-byte tag, but magicsock decides
/// "this is disco" from the header alone and lets opening the box reject the rest.
pub const DISCO_MIN_LEN: usize = 62;
/// STUN magic cookie (RFC 5389 §6; tailscale net/stun/stun.go).
pub const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
pub const STUN_HEADER_LEN: usize = 20;

// WireGuard message sizes (WireGuard whitepaper §5.4; boringtun src/noise/mod.rs).
pub const WG_HANDSHAKE_INIT_LEN: usize = 148;
pub const WG_HANDSHAKE_RESP_LEN: usize = 92;
pub const WG_COOKIE_REPLY_LEN: usize = 64;
/// type(4) + receiver(4) + counter(8) + tag(16): an empty (keep-alive) data message.
pub const WG_DATA_MIN_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgKind {
    HandshakeInit,
    HandshakeResp,
    CookieReply,
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stun,
    Disco,
    WireGuard(WgKind),
    /// Starts like a known protocol but is too short (or, for WireGuard, the wrong size).
    Truncated,
    /// Larger than the configured maximum datagram size.
    Oversized,
    Garbage,
}

/// Classifies one datagram. `max_len` is the largest datagram accepted at all.
pub fn classify(b: &[u8], max_len: usize) -> Kind {
    if b.len() > max_len {
        return Kind::Oversized;
    }
    if looks_like_stun(b) {
        // The header's length field counts the attributes after it; a datagram shorter than the
        // header says it is cannot be parsed by the engine.
        let body = u16::from_be_bytes([b[2], b[3]]) as usize;
        if STUN_HEADER_LEN + body > b.len() {
            return Kind::Truncated;
        }
        return Kind::Stun;
    }
    if b.len() >= DISCO_MAGIC.len() && b[..DISCO_MAGIC.len()] == DISCO_MAGIC {
        return if b.len() >= DISCO_MIN_LEN { Kind::Disco } else { Kind::Truncated };
    }
    if b.len() >= 4 && b[1] == 0 && b[2] == 0 && b[3] == 0 && (1..=4).contains(&b[0]) {
        let (kind, ok) = match b[0] {
            1 => (WgKind::HandshakeInit, b.len() == WG_HANDSHAKE_INIT_LEN),
            2 => (WgKind::HandshakeResp, b.len() == WG_HANDSHAKE_RESP_LEN),
            3 => (WgKind::CookieReply, b.len() == WG_COOKIE_REPLY_LEN),
            _ => (WgKind::Data, b.len() >= WG_DATA_MIN_LEN),
        };
        // A wrong-size handshake is "truncated" when shorter, garbage when longer: longer ones
        // are not a cut-off message but something else that happens to share the prefix.
        if ok {
            return Kind::WireGuard(kind);
        }
        let expected = match kind {
            WgKind::HandshakeInit => WG_HANDSHAKE_INIT_LEN,
            WgKind::HandshakeResp => WG_HANDSHAKE_RESP_LEN,
            WgKind::CookieReply => WG_COOKIE_REPLY_LEN,
            WgKind::Data => WG_DATA_MIN_LEN,
        };
        return if b.len() < expected { Kind::Truncated } else { Kind::Garbage };
    }
    if b.len() < 4 && !b.is_empty() && (1..=4).contains(&b[0]) {
        // A WireGuard type byte with fewer than four bytes: cut off.
        return Kind::Truncated;
    }
    Kind::Garbage
}

/// magicsock's `stun.Is`: ≥ 20 bytes, top two bits of byte 0 clear, the magic cookie at 4..8.
/// (Binding request 0x0001 and success response 0x0101 both have 0x01 in byte 1; we do not
/// restrict the type further, the engine's STUN parser decides.)
pub fn looks_like_stun(b: &[u8]) -> bool {
    b.len() >= STUN_HEADER_LEN && b[0] & 0xc0 == 0 && b[4..8] == STUN_MAGIC_COOKIE
}

/// The receiver index of a WireGuard message of types 2, 3 and 4 (bytes 4..8 for responses'
/// receiver field at 8..12). Types 3 and 4 carry it at 4..8, type 2 at 8..12.
pub fn receiver_index(kind: WgKind, b: &[u8]) -> Option<u32> {
    let at = match kind {
        WgKind::HandshakeInit => return None,
        WgKind::HandshakeResp => 8,
        WgKind::CookieReply | WgKind::Data => 4,
    };
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_binding_response() -> Vec<u8> {
        let mut b = vec![0x01, 0x01, 0x00, 0x0c];
        b.extend_from_slice(&STUN_MAGIC_COOKIE);
        b.extend_from_slice(&[7u8; 12]);
        b.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x12, 0x34, 1, 2, 3, 4]);
        b
    }

    #[test]
    fn stun_disco_wireguard_and_garbage() {
        assert_eq!(classify(&stun_binding_response(), 9000), Kind::Stun);
        let mut disco = DISCO_MAGIC.to_vec();
        disco.resize(62 + 16 + 2, 9);
        assert_eq!(classify(&disco, 9000), Kind::Disco);
        let mut init = vec![1, 0, 0, 0];
        init.resize(148, 0xaa);
        assert_eq!(classify(&init, 9000), Kind::WireGuard(WgKind::HandshakeInit));
        let mut data = vec![4, 0, 0, 0];
        data.resize(32, 0);
        assert_eq!(classify(&data, 9000), Kind::WireGuard(WgKind::Data));
        assert_eq!(classify(b"hello world, not a protocol", 9000), Kind::Garbage);
        assert_eq!(classify(&[], 9000), Kind::Garbage);
    }

    #[test]
    fn truncated_and_oversized() {
        let mut disco = DISCO_MAGIC.to_vec();
        disco.resize(40, 0);
        assert_eq!(classify(&disco, 9000), Kind::Truncated);
        let mut init = vec![1, 0, 0, 0];
        init.resize(100, 0);
        assert_eq!(classify(&init, 9000), Kind::Truncated);
        assert_eq!(classify(&[4, 0, 0, 0, 1, 2, 3], 9000), Kind::Truncated);
        assert_eq!(classify(&[2, 0], 9000), Kind::Truncated);
        let mut s = stun_binding_response();
        s.truncate(24);
        assert_eq!(classify(&s, 9000), Kind::Truncated);
        assert_eq!(classify(&vec![4u8; 9001], 9000), Kind::Oversized);
        let mut long_init = vec![1, 0, 0, 0];
        long_init.resize(200, 0);
        assert_eq!(classify(&long_init, 9000), Kind::Garbage);
    }

    #[test]
    fn receiver_index_positions() {
        let mut resp = vec![2, 0, 0, 0, 1, 1, 1, 1, 0x78, 0x56, 0x34, 0x12];
        resp.resize(92, 0);
        assert_eq!(receiver_index(WgKind::HandshakeResp, &resp), Some(0x12345678));
        let data = [4, 0, 0, 0, 0x01, 0x02, 0x03, 0x04];
        assert_eq!(receiver_index(WgKind::Data, &data), Some(0x04030201));
    }
}
