// magicsock's timing constants (tailscale wgengine/magicsock/magicsock.go, near the end of the
// file: heartbeatInterval … pongHistoryCount; tsconst/ping.go; values checked at v1.98.10 and
// v1.102.3 in shared/spec/dataplane.md §4.1). Meshtray uses the same numbers so that both ends
// of a Meshtray ↔ tailscaled path expire and refresh their state at the same pace.

/** While a session is active, ping the best UDP path this often. */
export const HEARTBEAT_MS = 3_000;
/** After a pong on the best path, send only over UDP (no DERP copy) for this long. */
export const TRUST_UDP_ADDR_MS = 6_500;
/** No outbound data for this long: the session is idle, heartbeats stop; ping-learned candidates expire. */
export const SESSION_ACTIVE_TIMEOUT_MS = 45_000;
/** An unanswered disco ping is forgotten after this. */
export const PING_TIMEOUT_MS = 5_000;
/** Minimum time between discovery pings to the same candidate (CallMeMaybe resets it). */
export const DISCO_PING_INTERVAL_MS = 5_000;
/** Even with a working direct path, re-ping every candidate this often looking for a better one. */
export const UPGRADE_UDP_DIRECT_INTERVAL_MS = 60_000;
/** A best path at or below this latency is good enough: no periodic search for better ones. */
export const GOOD_ENOUGH_LATENCY_MS = 5;
/** Our own STUN endpoints are trusted this long before a CallMeMaybe asks for a re-STUN. */
export const ENDPOINTS_FRESH_ENOUGH_MS = 27_000;
/** Periodic re-STUN at a random time in this window (below typical 30 s NAT timeouts). */
export const RESTUN_MIN_MS = 20_000;
export const RESTUN_MAX_MS = 26_000;
/** Pong results kept per candidate. */
export const PONG_HISTORY = 64;
/** How often the conn re-evaluates trust windows and polls the data plane for activity. */
export const TICK_MS = 1_000;
/** The DERP "magic IP": 127.3.3.40:<region> names DERP region <region> (tailcfg.DerpMagicIP). */
export const DERP_MAGIC_IP = '127.3.3.40';
