//! Cryptokey routing table: longest-prefix match from an IP address to a peer
//! (WireGuard whitepaper §2; shared/spec/dataplane.md §5 "Per-peer AllowedIPs").
//!
//! One hash map per prefix length, searched from the longest length present. A tailnet has at
//! most a few distinct lengths (/32, /128, a handful of subnet routes, /0 for an exit node), so a
//! lookup is a few hash probes, with no trie to maintain.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// Parses "a.b.c.d/n", "x::y/n" or a bare address (a host prefix). The address is masked
    /// to the prefix, so "10.1.2.3/8" means 10.0.0.0/8.
    pub fn parse(s: &str) -> Result<Prefix, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("invalid IP prefix {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l.trim().parse::<u8>().map_err(|_| format!("invalid prefix length in {s:?}"))?,
            None => max,
        };
        if len > max {
            return Err(format!("prefix length {len} too long in {s:?}"));
        }
        Ok(Prefix { addr: mask(addr, len), len })
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

#[derive(Debug, Clone)]
pub struct AllowedIps<T: Clone> {
    v4: Vec<(u8, HashMap<IpAddr, T>)>,
    v6: Vec<(u8, HashMap<IpAddr, T>)>,
}

impl<T: Clone> Default for AllowedIps<T> {
    fn default() -> Self {
        AllowedIps { v4: Vec::new(), v6: Vec::new() }
    }
}

impl<T: Clone> AllowedIps<T> {
    /// Inserts a prefix; an existing identical prefix keeps its first owner (control should not
    /// hand out overlaps; tailscale picks one deterministically too, see dataplane.md §5).
    pub fn insert(&mut self, p: Prefix, v: T) {
        let tables = if p.addr.is_ipv4() { &mut self.v4 } else { &mut self.v6 };
        let pos = match tables.iter().position(|(l, _)| *l == p.len) {
            Some(i) => i,
            None => {
                tables.push((p.len, HashMap::new()));
                // Longest first, so lookup can stop at the first hit.
                tables.sort_by_key(|t| std::cmp::Reverse(t.0));
                tables.iter().position(|(l, _)| *l == p.len).unwrap_or(0)
            }
        };
        if let Some((_, m)) = tables.get_mut(pos) {
            m.entry(p.addr).or_insert(v);
        }
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        let tables = if ip.is_ipv4() { &self.v4 } else { &self.v6 };
        for (len, m) in tables {
            if let Some(v) = m.get(&mask(ip, *len)) {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut t = AllowedIps::default();
        t.insert(Prefix::parse("0.0.0.0/0").unwrap(), "exit");
        t.insert(Prefix::parse("10.0.0.0/8").unwrap(), "subnet");
        t.insert(Prefix::parse("100.64.0.2/32").unwrap(), "peer2");
        t.insert(Prefix::parse("fd7a:115c:a1e0::2/128").unwrap(), "peer2v6");
        assert_eq!(t.lookup("100.64.0.2".parse().unwrap()), Some(&"peer2"));
        assert_eq!(t.lookup("10.9.9.9".parse().unwrap()), Some(&"subnet"));
        assert_eq!(t.lookup("8.8.8.8".parse().unwrap()), Some(&"exit"));
        assert_eq!(t.lookup("fd7a:115c:a1e0::2".parse().unwrap()), Some(&"peer2v6"));
        assert_eq!(t.lookup("fd7a:115c:a1e0::3".parse().unwrap()), None);
    }

    #[test]
    fn parse_rejects_bad_prefixes() {
        assert!(Prefix::parse("100.64.0.1/33").is_err());
        assert!(Prefix::parse("nonsense").is_err());
        assert_eq!(Prefix::parse("10.1.2.3/8").unwrap().addr, "10.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(Prefix::parse("100.64.0.1").unwrap().len, 32);
    }
}
