// Exit-node picker: None plus every peer that offers exit routes, searchable, with each online
// one's latency (measured through the engine when the picker opens, at most once a minute);
// "Allow LAN access" beside it with a line saying what it does and does not do; "Run as exit node"
// below (run-exit-node-toggle.tsx).
import { useId, useMemo, useState } from 'react';
import { useLatencies } from '../../api/use-latencies.js';
import { useAction, useUi } from '../../context.js';
import { filterRows, peerRows } from '../../store/selectors.js';
import { PrefToggle } from '../settings/pref-toggle.js';
import { LAN_HELP } from './lan-help.js';
import { RunExitNodeToggle } from './run-exit-node-toggle.js';
import { exitChoiceBlocked } from './run-exit-node.js';

/** More exit nodes than this are measured only when pinged from the device list (a big tailnet). */
const MAX_MEASURED = 32;

export function ExitNodePicker() {
  const status = useUi((s) => s.engine.status);
  const prefs = useUi((s) => s.engine.prefs);
  const pings = useUi((s) => s.pings);
  const act = useAction();
  const [query, setQuery] = useState('');
  const searchId = useId();
  const options = useMemo(() => peerRows(status).filter((r) => r.exitNodeOption), [status]);
  const shown = filterRows(options, query);
  const targets = useMemo(() => options.filter((r) => r.online && r.addresses[0]).map((r) => r.addresses[0]!), [options]);
  useLatencies(targets, MAX_MEASURED);
  const selected = prefs?.ExitNodeID ?? '';
  // Chosen by IP (CLI `--exit-node=<ip>`) and no exit node has that IP yet: the engine keeps it and
  // drops internet traffic instead of leaking it, so "None" must not look chosen.
  const pendingIP = selected === '' ? (prefs?.ExitNodeIP ?? '') : '';
  // Running as an exit node: tailscale refuses to use one at the same time, so only None (and the
  // current choice, if the CLI set both) stays choosable, with the reason said once.
  const runningAsExit = exitChoiceBlocked(prefs);
  const choose = (id: string) => void act((c) => c.call('editPrefs', { ExitNodeID: id, ExitNodeIP: '' }));
  return (
    <section aria-labelledby="exit-title" className="screen exit-node">
      <h2 id="exit-title">Exit node</h2>
      <label htmlFor={searchId} className="visually-hidden">
        Search exit nodes
      </label>
      <input id={searchId} type="search" placeholder="Search exit nodes" value={query} onChange={(e) => setQuery(e.target.value)} />
      <fieldset className="exit-list">
        <legend className="visually-hidden">Route internet traffic through</legend>
        <label className="exit-option">
          <input type="radio" name="exit-node" value="" checked={selected === '' && pendingIP === ''} onChange={() => choose('')} />
          <span>None (use this device's own internet connection)</span>
        </label>
        {pendingIP && (
          <label className="exit-option offline">
            <input type="radio" name="exit-node" value={pendingIP} checked disabled readOnly />
            <span>{pendingIP} (not available: no device offers exit routes at this address)</span>
          </label>
        )}
        {shown.map((r) => {
          const ping = r.addresses[0] ? pings[r.addresses[0]] : undefined;
          return (
            <label key={r.id} className={`exit-option ${r.online ? '' : 'offline'}`}>
              <input
                type="radio"
                name="exit-node"
                value={r.id}
                checked={selected === r.id}
                disabled={(!r.online || runningAsExit !== undefined) && selected !== r.id}
                onChange={() => choose(r.id)}
              />
              <span>
                {r.name}
                {r.online ? '' : ' (offline)'}
                {ping?.latencyMs !== undefined ? ` · ${Math.round(ping.latencyMs)} ms` : ''}
              </span>
            </label>
          );
        })}
        {options.length === 0 && <p className="help">No device in your tailnet offers itself as an exit node.</p>}
        {runningAsExit && options.length > 0 && (
          <p className="help" data-testid="exit-use-blocked">
            {runningAsExit}
          </p>
        )}
      </fieldset>
      <PrefToggle pref="ExitNodeAllowLANAccess" label="Allow LAN access" help={LAN_HELP} />
      <RunExitNodeToggle />
    </section>
  );
}
