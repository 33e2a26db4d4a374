// "Run as exit node" (tailscale's desktop clients' "Run exit node") in the window: the wording and
// what blocks the toggle. What the prefs and status mean lives in common/prefs/exit-node-prefs.ts,
// shared with the engine (which refuses using and offering at once) and the tray.
import type { Prefs } from '../../../common/schemas/prefs.js';
import { advertisesExitNode, usesExitNode, type RunExitNodeState } from '../../../common/prefs/exit-node-prefs.js';

export { EXIT_ROUTES, advertisesExitNode, runExitNodeState, usesExitNode, withExitRoutes, type RunExitNodeState } from '../../../common/prefs/exit-node-prefs.js';

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
