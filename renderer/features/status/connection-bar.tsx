// Connection state, this device's address, and connect/disconnect.
import { useAction, useUi } from '../../context.js';
import { displayName } from '../../store/selectors.js';

const LABEL: Record<string, string> = {
  Running: 'Connected',
  Starting: 'Connecting…',
  Stopped: 'Disconnected',
  NeedsLogin: 'Logged out',
  NeedsMachineAuth: 'Waiting for an admin to approve this device',
  NoState: 'Starting the engine…',
};

// Selectors must return stable values (a fresh [] each time would re-render forever).
const NO_IPS: readonly string[] = [];

export function ConnectionBar() {
  const reachable = useUi((s) => s.engine.connected && s.app?.engineReachable !== false);
  // Without a live engine the last state seen is not the truth any more: show none.
  const state = useUi((s) => s.engine.state);
  const shown = reachable ? state : undefined;
  const ips = useUi((s) => s.engine.status?.TailscaleIPs) ?? NO_IPS;
  const exitID = useUi((s) => s.engine.prefs?.ExitNodeID ?? '');
  const exitIP = useUi((s) => (s.engine.prefs?.ExitNodeID ? '' : (s.engine.prefs?.ExitNodeIP ?? '')));
  const exitPeer = useUi((s) => (exitID ? Object.values(s.engine.status?.Peer ?? {}).find((p) => p.ID === exitID) : undefined));
  const act = useAction();
  const on = state === 'Running' || state === 'Starting';
  return (
    <header className={`connection-bar state-${shown ?? 'unknown'}`}>
      <div>
        <p className="state" data-testid="connection-state" role="status">
          {shown ? LABEL[shown] ?? shown : 'Not connected to the engine'}
          {shown === 'Running' && exitID ? ` · using an exit node${exitPeer ? ` (${displayName(exitPeer)})` : ''}` : ''}
          {shown === 'Running' && exitIP ? ` · exit node ${exitIP} not available: internet traffic is blocked` : ''}
        </p>
        {shown && ips.length > 0 && <p className="self-ip">{ips.join(' · ')}</p>}
      </div>
      {shown && shown !== 'NeedsLogin' && shown !== 'NoState' && (
        <button
          type="button"
          className={on ? '' : 'primary'}
          onClick={() => void act((c) => (on ? c.call('down', {}) : c.call('editPrefs', { WantRunning: true })))}
        >
          {on ? 'Disconnect' : 'Connect'}
        </button>
      )}
    </header>
  );
}
