// "Run as exit node" (tailscale's desktop clients' "Run exit node"): what the engine says about it
// and the prefs edit that turns it on or off. Pure, so the wording is unit-tested under Node.
//
// Facts this follows:
// - Offering = Prefs.AdvertiseRoutes holds BOTH 0.0.0.0/0 and ::/0 (tailscale ipn/prefs.go
//   AdvertisesExitNode -> tsaddr.ContainsExitRoutes); turning it on/off drops every /0 and appends
//   the two (Prefs.SetAdvertiseExitNode), so advertised subnets stay as they are.
// - Approved = control put the /0s into the self node's AllowedIPs. Headscale's self node carries
//   AllowedIPs = addresses + primaries + ExitRoutes() (approved AND announced; hscontrol/mapper
//   builder.go WithSelfNode, types/node.go TailNode); PrimaryRoutes never holds exit routes there.
//   The engine's status copies the self node's AllowedIPs into Status.Self.AllowedIPs.
// - Using an exit node and being one at once is refused by tailscale ("Cannot advertise an exit
//   node and use an exit node at the same time.", ipn/ipnlocal/local.go checkExitNodePrefsLocked),
//   so the window never asks for that combination.
import type { Prefs } from '../../../common/schemas/prefs.js';
import type { PeerStatus } from '../../../common/schemas/status.js';

/** tsaddr.AllIPv4() and tsaddr.AllIPv6(): the two routes an exit node advertises. */
export const EXIT_ROUTES = ['0.0.0.0/0', '::/0'] as const;

export type RunExitNodeState = 'off' | 'waiting' | 'approved';

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

/** The toggle's label (also its accessible name). */
export const RUN_EXIT_NODE_LABEL = 'Run as exit node';

/** The help line under the toggle: what it does, who approves it, and what it cannot be combined with. */
export const RUN_EXIT_NODE_HELP =
  "Lets other devices in your tailnet send their internet traffic out through this device's connection. An admin must approve it on the control server before anyone can use it. It cannot be on while this device uses an exit node.";

/** One line saying where things stand, from the engine's prefs and status only. */
export function runExitNodeStateText(state: RunExitNodeState): string {
  switch (state) {
    case 'off':
      return 'Off: this device is not offered as an exit node.';
    case 'waiting':
      return 'Offered, waiting for approval: an admin must approve this device as an exit node on the control server.';
    case 'approved':
      return 'Approved: other devices can use this one as their exit node.';
  }
}

/** Why the toggle cannot be turned on right now, or undefined when it can. */
export function runExitNodeBlocked(prefs: Pick<Prefs, 'AdvertiseRoutes' | 'ExitNodeID' | 'ExitNodeIP'> | undefined): string | undefined {
  if (!prefs) return undefined;
  if (!advertisesExitNode(prefs) && usesExitNode(prefs)) return 'This device uses an exit node: choose None above to run as one.';
  return undefined;
}

/** Why other exit nodes cannot be chosen right now (this device is offering itself), or undefined. */
export function exitChoiceBlocked(prefs: Pick<Prefs, 'AdvertiseRoutes'> | undefined): string | undefined {
  return advertisesExitNode(prefs) ? 'This device runs as an exit node: turn "Run as exit node" off below to use another device as yours.' : undefined;
}
