// Exit-node picker: None plus every peer that offers exit routes, searchable, with each online
// one's latency (measured through the engine when the picker opens, at most once a minute);
// "Allow LAN access" beside it with a line saying what it does and does not do.
import { useEffect, useId, useMemo, useState } from 'react';
import { LATENCY_MAX_AGE_MS, measureLatency, needsMeasuring } from '../../api/measure-latency.js';
import { useAction, useServices, useUi } from '../../context.js';
import { filterRows, peerRows } from '../../store/selectors.js';
import { PrefToggle } from '../settings/pref-toggle.js';
import { LAN_HELP } from './lan-help.js';


/** More exit nodes than this are measured only when pinged from the device list (a big tailnet). */
const MAX_MEASURED = 32;

/** Pings the online exit-node options one at a time while the picker is open. */
function useExitLatencies(targets: readonly string[]): void {
  const { client, store } = useServices();
  const key = targets.join(' ');
  useEffect(() => {
    let stopped = false;
    const run = async (): Promise<void> => {
      for (const ip of targets.slice(0, MAX_MEASURED)) {
        if (stopped) return;
        if (!needsMeasuring(store.getState().pings[ip], Date.now())) continue;
        // A peer that does not answer shows no latency; the device list's Ping button says why.
        await measureLatency(client, store, ip, 3_000).catch(() => undefined);
      }
    };
    void run();
    const again = setInterval(() => void run(), LATENCY_MAX_AGE_MS);
    return () => {
      stopped = true;
      clearInterval(again);
    };
    // `key` stands for `targets` (a new array each status update; the same peers need no new run).
  }, [key, client, store]);
}

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
  useExitLatencies(targets);
  const selected = prefs?.ExitNodeID ?? '';
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
          <input type="radio" name="exit-node" value="" checked={selected === ''} onChange={() => choose('')} />
          <span>None (use this device's own internet connection)</span>
        </label>
        {shown.map((r) => {
          const ping = r.addresses[0] ? pings[r.addresses[0]] : undefined;
          return (
            <label key={r.id} className={`exit-option ${r.online ? '' : 'offline'}`}>
              <input
                type="radio"
                name="exit-node"
                value={r.id}
                checked={selected === r.id}
                disabled={!r.online && selected !== r.id}
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
      </fieldset>
      <PrefToggle pref="ExitNodeAllowLANAccess" label="Allow LAN access" help={LAN_HELP} />
    </section>
  );
}
