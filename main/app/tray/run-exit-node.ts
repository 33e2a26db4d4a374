// "Run as exit node" for the tray, read from the engine's prefs and status exactly as the window
// reads it (renderer/features/exit-node/run-exit-node.ts; the tray cannot import the renderer, and
// common/ is the contract, so the few lines are repeated here and both are unit-tested):
// - on = Prefs.AdvertiseRoutes holds both 0.0.0.0/0 and ::/0 (tailscale ipn/prefs.go AdvertisesExitNode);
// - approved = control put both into the self node's AllowedIPs (Headscale hscontrol/mapper
//   builder.go WithSelfNode adds the approved exit routes to self; Status.Self.AllowedIPs);
// - on/off drops every /0 and appends the two, keeping advertised subnets (Prefs.SetAdvertiseExitNode);
// - not while using an exit node (ipn/ipnlocal/local.go checkExitNodePrefsLocked refuses that).
import type { Prefs } from '../../../common/schemas/prefs.js';
import type { PeerStatus } from '../../../common/schemas/status.js';

export const EXIT_ROUTES = ['0.0.0.0/0', '::/0'] as const;

export type RunExitNodeState = 'off' | 'waiting' | 'approved';

const both = (routes: readonly string[] | null | undefined): boolean => !!routes && EXIT_ROUTES.every((r) => routes.includes(r));

export function advertisesExitNode(prefs: Pick<Prefs, 'AdvertiseRoutes'> | undefined): boolean {
  return both(prefs?.AdvertiseRoutes);
}

export function runExitNodeState(prefs: Pick<Prefs, 'AdvertiseRoutes'> | undefined, self: Pick<PeerStatus, 'AllowedIPs'> | null | undefined): RunExitNodeState {
  if (!advertisesExitNode(prefs)) return 'off';
  return both(self?.AllowedIPs) ? 'approved' : 'waiting';
}

export function withExitRoutes(routes: readonly string[], on: boolean): string[] {
  const kept = routes.filter((r) => !r.endsWith('/0'));
  return on ? [...kept, ...EXIT_ROUTES] : kept;
}
