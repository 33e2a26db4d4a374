// The tray menu as data: Status + Prefs in, menu items out. Pure, so it is unit-tested under Node;
// tray-adapter.ts turns it into an Electron Menu. It mirrors the window: connection state, this
// device's address, the exit-node submenu with checkmarks, the toggles, log in/out, open, quit.
import type { BackendState, PeerStatus, Status } from '../../../common/schemas/status.js';
import type { Prefs } from '../../../common/schemas/prefs.js';
import { advertisesExitNode, runExitNodeState, withExitRoutes } from '../../../common/prefs/exit-node-prefs.js';

export type IconVariant = 'disconnected' | 'connected' | 'exit-node';

export type TogglePref = 'ExitNodeAllowLANAccess' | 'RouteAll' | 'CorpDNS';

export type MenuCommand =
  | { type: 'connect' }
  | { type: 'disconnect' }
  | { type: 'set-exit-node'; id: string }
  | { type: 'toggle'; pref: TogglePref; value: boolean }
  // "Run as exit node": the whole AdvertiseRoutes list the click sets (subnets kept, the /0s added
  // or removed), computed from the prefs the menu was built from; the menu is rebuilt on every
  // Prefs change, so the list is the engine's current one plus or minus the exit routes.
  | { type: 'toggle'; pref: 'AdvertiseRoutes'; value: string[] }
  | { type: 'login' }
  | { type: 'logout' }
  | { type: 'copy'; text: string }
  | { type: 'open-window' }
  | { type: 'install-update' }
  | { type: 'quit' };

export type MenuItem =
  | { kind: 'label'; id: string; label: string }
  | { kind: 'separator'; id: string }
  | { kind: 'action'; id: string; label: string; enabled: boolean; command: MenuCommand }
  | { kind: 'checkbox'; id: string; label: string; checked: boolean; enabled: boolean; command: MenuCommand }
  | { kind: 'radio'; id: string; label: string; checked: boolean; enabled: boolean; command: MenuCommand }
  | { kind: 'submenu'; id: string; label: string; enabled: boolean; items: MenuItem[] };

export interface MenuModel {
  icon: IconVariant;
  tooltip: string;
  items: MenuItem[];
}

export interface MenuInput {
  status: Status | undefined;
  prefs: Prefs | undefined;
  /** False while the app has no connection to the engine at all. */
  engineReachable: boolean;
  /** A downloaded update waiting for a restart, if any. */
  updateReady?: { version: string };
}

export function stateLabel(state: BackendState | undefined, engineReachable: boolean): string {
  if (!engineReachable) return 'Meshtray engine not running';
  switch (state) {
    case 'Running': return 'Connected';
    case 'Starting': return 'Connecting…';
    case 'Stopped': return 'Disconnected';
    case 'NeedsLogin': return 'Logged out';
    case 'NeedsMachineAuth': return 'Waiting for an admin to approve this device';
    default: return 'Starting the engine…';
  }
}

/** The name a person recognises: the first label of the MagicDNS name, else the OS hostname. */
export function peerDisplayName(p: Pick<PeerStatus, 'DNSName' | 'HostName'>): string {
  const first = p.DNSName.split('.')[0];
  return first ? first : p.HostName;
}

/** Peers that offer exit routes, by display name. */
export function exitNodeOptions(status: Status | undefined): PeerStatus[] {
  const peers = Object.values(status?.Peer ?? {});
  return peers
    .filter((p) => p.ExitNodeOption)
    .sort((a, b) => peerDisplayName(a).localeCompare(peerDisplayName(b), undefined, { numeric: true }) || a.ID.localeCompare(b.ID));
}

export function iconFor(state: BackendState | undefined, prefs: Prefs | undefined): IconVariant {
  if (state !== 'Running') return 'disconnected';
  return prefs && (prefs.ExitNodeID !== '' || prefs.ExitNodeIP !== '') ? 'exit-node' : 'connected';
}

export function buildMenu({ status, prefs, engineReachable, updateReady }: MenuInput): MenuModel {
  const state = engineReachable ? status?.BackendState : undefined;
  const running = state === 'Running';
  const loggedIn = engineReachable && state !== undefined && state !== 'NeedsLogin' && state !== 'NoState';
  const items: MenuItem[] = [];
  const label = stateLabel(state, engineReachable);
  items.push({ kind: 'label', id: 'state', label });

  const myIPs = status?.Self?.TailscaleIPs ?? status?.TailscaleIPs ?? [];
  const v4 = myIPs.find((ip) => !ip.includes(':')) ?? myIPs[0];
  if (loggedIn && v4) {
    const name = status?.Self ? peerDisplayName(status.Self) : '';
    items.push({ kind: 'action', id: 'self-address', label: `This device: ${name ? `${name} ` : ''}(${v4})`, enabled: true, command: { type: 'copy', text: v4 } });
  }
  items.push({ kind: 'separator', id: 'sep-1' });

  if (loggedIn) {
    items.push(
      running || state === 'Starting'
        ? { kind: 'action', id: 'disconnect', label: 'Disconnect', enabled: true, command: { type: 'disconnect' } }
        : { kind: 'action', id: 'connect', label: 'Connect', enabled: true, command: { type: 'connect' } },
    );
    const selected = prefs?.ExitNodeID ?? '';
    // An exit node chosen by IP that no peer offering exit routes has (yet): the engine keeps the IP
    // and drops internet traffic rather than leak it (tailscale resolveExitNodeIPLocked), so the menu
    // must not claim "None"; it shows the IP, checked and not choosable.
    const pendingIP = selected === '' ? (prefs?.ExitNodeIP ?? '') : '';
    const options = exitNodeOptions(status);
    // Using an exit node and being one are exclusive (tailscale checkExitNodePrefsLocked refuses
    // both at once), so while this device offers itself only None stays choosable, and while it
    // uses one, "Run as exit node" cannot be turned on.
    const runningAsExit = advertisesExitNode(prefs);
    const usingExit = selected !== '' || pendingIP !== '';
    const runState = runExitNodeState(prefs, status?.Self);
    const runLabel = runState === 'waiting' ? 'Run as exit node (waiting for approval)' : runState === 'approved' ? 'Run as exit node (approved)' : usingExit ? 'Run as exit node (not while using an exit node)' : 'Run as exit node';
    const exitItems: MenuItem[] = [
      { kind: 'radio', id: 'exit-none', label: 'None', checked: selected === '' && pendingIP === '', enabled: true, command: { type: 'set-exit-node', id: '' } },
      ...(pendingIP
        ? [{ kind: 'radio', id: 'exit-ip', label: `${pendingIP} (not available)`, checked: true, enabled: false, command: { type: 'set-exit-node', id: '' } } satisfies MenuItem]
        : []),
      ...options.map((p): MenuItem => ({
        kind: 'radio',
        id: `exit-${p.ID}`,
        label: `${peerDisplayName(p)}${p.Online ? '' : ' (offline)'}`,
        checked: selected === p.ID,
        // An offline exit node cannot carry traffic; keep it visible (and checked if chosen) but not choosable.
        enabled: (p.Online && !runningAsExit) || selected === p.ID,
        command: { type: 'set-exit-node', id: p.ID },
      })),
      { kind: 'separator', id: 'exit-sep' },
      {
        kind: 'checkbox', id: 'allow-lan', label: 'Allow LAN access', checked: prefs?.ExitNodeAllowLANAccess ?? false, enabled: prefs !== undefined,
        command: { type: 'toggle', pref: 'ExitNodeAllowLANAccess', value: !(prefs?.ExitNodeAllowLANAccess ?? false) },
      },
      {
        kind: 'checkbox', id: 'run-exit-node', label: runLabel, checked: runningAsExit,
        // Turning it off is always allowed; turning it on is not while an exit node is in use.
        enabled: prefs !== undefined && (runningAsExit || !usingExit),
        command: { type: 'toggle', pref: 'AdvertiseRoutes', value: withExitRoutes(prefs?.AdvertiseRoutes ?? [], !runningAsExit) },
      },
    ];
    const current = options.find((p) => p.ID === selected);
    const exitLabel = current ? `Exit node: ${peerDisplayName(current)}` : pendingIP ? `Exit node: ${pendingIP} (not available)` : 'Exit node';
    items.push({ kind: 'submenu', id: 'exit-nodes', label: exitLabel, enabled: prefs !== undefined, items: exitItems });
    items.push(
      { kind: 'checkbox', id: 'use-subnets', label: 'Use subnets', checked: prefs?.RouteAll ?? false, enabled: prefs !== undefined, command: { type: 'toggle', pref: 'RouteAll', value: !(prefs?.RouteAll ?? false) } },
      { kind: 'checkbox', id: 'use-magicdns', label: 'Use MagicDNS', checked: prefs?.CorpDNS ?? false, enabled: prefs !== undefined, command: { type: 'toggle', pref: 'CorpDNS', value: !(prefs?.CorpDNS ?? false) } },
    );
    items.push({ kind: 'separator', id: 'sep-2' });
    const login = status?.Self ? status.User?.[String(status.Self.UserID)]?.LoginName : undefined;
    items.push({ kind: 'action', id: 'logout', label: login ? `Log out ${login}` : 'Log out', enabled: true, command: { type: 'logout' } });
  } else {
    items.push({ kind: 'action', id: 'login', label: 'Log in…', enabled: engineReachable, command: { type: 'login' } });
  }
  if (updateReady) {
    items.push({ kind: 'separator', id: 'sep-update' }, { kind: 'action', id: 'install-update', label: `Restart to update to ${updateReady.version}`, enabled: true, command: { type: 'install-update' } });
  }
  items.push(
    { kind: 'separator', id: 'sep-3' },
    { kind: 'action', id: 'open-window', label: 'Open Meshtray', enabled: true, command: { type: 'open-window' } },
    { kind: 'action', id: 'quit', label: 'Quit Meshtray', enabled: true, command: { type: 'quit' } },
  );
  const icon = iconFor(state, prefs);
  const exitName = exitNodeOptions(status).find((p) => p.ID === prefs?.ExitNodeID);
  const via = exitName ? peerDisplayName(exitName) : prefs?.ExitNodeID === '' && prefs.ExitNodeIP ? `${prefs.ExitNodeIP} (not available)` : '';
  const tooltip = `Meshtray: ${label}${icon === 'exit-node' && via ? ` via ${via}` : ''}`;
  return { icon, tooltip, items };
}
