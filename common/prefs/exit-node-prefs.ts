// "Run as exit node" and "use an exit node" read from the prefs and status the engine publishes:
// pure functions on the contract's types, shared by the engine (which refuses the combination),
// the window and the tray, so the three agree.
//
// Facts this follows:
// - Offering = Prefs.AdvertiseRoutes holds BOTH 0.0.0.0/0 and ::/0 (tailscale ipn/prefs.go
//   AdvertisesExitNode -> tsaddr.ContainsExitRoutes); turning it on/off drops every /0 and appends
//   the two (Prefs.SetAdvertiseExitNode), so advertised subnets stay as they are.
// - Approved = control put the /0s into the self node's AllowedIPs. Headscale's self node carries
//   AllowedIPs = addresses + primaries + ExitRoutes() (approved AND announced; hscontrol/mapper
//   builder.go WithSelfNode, types/node.go TailNode). Status.Self.AllowedIPs copies them.
// - Using an exit node and being one at once is refused by tailscale ("Cannot advertise an exit
//   node and use an exit node at the same time.", ipn/ipnlocal/local.go checkExitNodePrefsLocked).
import type { Prefs } from '../schemas/prefs.js';
import type { PeerStatus } from '../schemas/status.js';

/** tsaddr.AllIPv4() and tsaddr.AllIPv6(): the two routes an exit node advertises. */
export const EXIT_ROUTES = ['0.0.0.0/0', '::/0'] as const;

export type RunExitNodeState = 'off' | 'waiting' | 'approved';

/** tailscale's wording, used by the engine's refusal and shown as is. */
export const EXIT_NODE_BOTH_REFUSED = 'Cannot advertise an exit node and use an exit node at the same time.';

function hasBothExitRoutes(routes: readonly string[] | null | undefined): boolean {
  return !!routes && EXIT_ROUTES.every((r) => routes.includes(r));
}

/** Prefs ask to offer this device as an exit node (tailscale Prefs.AdvertisesExitNode). */
export function advertisesExitNode(prefs: Pick<Prefs, 'AdvertiseRoutes'> | undefined): boolean {
  return hasBothExitRoutes(prefs?.AdvertiseRoutes);
}

/** Prefs choose an exit node (by ID, or by an IP not resolved yet). */
export function usesExitNode(prefs: Pick<Prefs, 'ExitNodeID' | 'ExitNodeIP'> | undefined): boolean {
  return !!prefs && (prefs.ExitNodeID !== '' || prefs.ExitNodeIP !== '');
}

/**
 * The engine's view: off unless the prefs offer it; offered and approved once control has put both
 * /0s into this device's AllowedIPs; otherwise waiting for an admin. A stale approval (control has
 * not yet seen the route withdrawn) does not make "off" look on: prefs decide on/off.
 */
export function runExitNodeState(prefs: Pick<Prefs, 'AdvertiseRoutes'> | undefined, self: Pick<PeerStatus, 'AllowedIPs'> | null | undefined): RunExitNodeState {
  if (!advertisesExitNode(prefs)) return 'off';
  return hasBothExitRoutes(self?.AllowedIPs) ? 'approved' : 'waiting';
}

/** AdvertiseRoutes with the exit routes on or off; every other route kept, in its order (SetAdvertiseExitNode). */
export function withExitRoutes(routes: readonly string[], on: boolean): string[] {
  const kept = routes.filter((r) => !r.endsWith('/0'));
  return on ? [...kept, ...EXIT_ROUTES] : kept;
}
