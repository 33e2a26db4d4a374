// The peer list: name, addresses (copy), OS, online ("offline" in words, not only the dot's
// colour), direct or relayed, and latency: the online rows in view are pinged through the engine
// (at most once a minute each; any row again with its button), and the pong's path and latency
// are shown; before that, the engine's status says direct / relayed / idle. Search matches name, DNS name, addresses and OS;
// rows are precomputed once per status update, and only the rows in view are in the DOM.
import { useCallback, useDeferredValue, useId, useMemo, useState } from 'react';
import { measureLatency } from '../../api/measure-latency.js';
import { useLatencies } from '../../api/use-latencies.js';
import { useAction, useServices, useUi } from '../../context.js';
import { CopyButton } from '../../components/copy-button.js';
import { VirtualList } from '../../components/virtual-list.js';
import { filterRows, peerRows, type PeerRow } from '../../store/selectors.js';

/** A tall window shows ~10 rows; never more pings than this at once. */
const MAX_MEASURED_IN_VIEW = 16;

export function PeerList() {
  const status = useUi((s) => s.engine.status);
  const rows = useMemo(() => peerRows(status), [status]);
  const [query, setQuery] = useState('');
  const deferred = useDeferredValue(query);
  const shown = useMemo(() => filterRows(rows, deferred), [rows, deferred]);
  const searchId = useId();
  const [range, setRange] = useState<[number, number]>([0, 0]);
  const onVisibleRange = useCallback((a: number, b: number) => setRange((r) => (r[0] === a && r[1] === b ? r : [a, b])), []);
  const inView = useMemo(
    () => shown.slice(range[0], range[1]).filter((r) => r.online && r.addresses[0]).map((r) => r.addresses[0]!),
    [shown, range],
  );
  // The rows in view only: a few pings, however big the tailnet.
  useLatencies(inView, MAX_MEASURED_IN_VIEW);
  return (
    <section aria-labelledby="peers-title" className="screen peers">
      <h2 id="peers-title">Devices</h2>
      <label htmlFor={searchId} className="visually-hidden">
        Search devices
      </label>
      <input
        id={searchId}
        type="search"
        placeholder="Search by name, address or OS"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <p className="count" aria-live="polite" data-testid="peer-count">
        {shown.length} of {rows.length} devices
      </p>
      <VirtualList items={shown} rowHeight={64} height={360} label="Devices" itemKey={(r) => r.id} render={(r) => <PeerRowView row={r} />} onVisibleRange={onVisibleRange} />
    </section>
  );
}

function PeerRowView({ row }: { row: PeerRow }) {
  const act = useAction();
  const { store } = useServices();
  const ip = row.addresses[0];
  const ping = useUi((s) => (ip ? s.pings[ip] : undefined));
  // A ping the engine answered is the freshest word on the path (Status is republished on netmap
  // changes, not on every path change); without one, the engine's status says it.
  const measured = row.online && ping && !ping.pending && !ping.error && ping.latencyMs !== undefined ? ping : undefined;
  const path = measured?.path ?? row.path;
  return (
    <div className={`peer ${row.online ? 'online' : 'offline'}`} data-testid="peer-row" data-peer-name={row.name}>
      <div className="peer-main">
        <span className="dot" aria-hidden="true" />
        <span className="peer-name">{row.name}</span>
        <span className="peer-os">{row.os || 'unknown OS'}</span>
        {row.online && <span className="visually-hidden">online</span>}
        <span className={`path path-${path}`} title={measured?.via ? `last ping: ${measured.via}` : row.pathDetail} data-testid="peer-path">
          {row.online ? path : 'offline'}
          {measured?.latencyMs !== undefined ? ` · ${formatMs(measured.latencyMs)}` : ''}
        </span>
      </div>
      <div className="peer-addrs">
        {row.addresses.map((a) => (
          <span key={a} className="addr">
            <code>{a}</code>
            <CopyButton text={a} label={`Copy ${a} (${row.name})`} />
          </span>
        ))}
        {ip && (
          <button
            type="button"
            aria-label={`Ping ${row.name}`}
            aria-busy={ping?.pending === true}
            // Not disabled while a ping runs (the rows in view are pinged on their own): a disabled
            // button would drop the keyboard focus sitting on it. A click then simply waits.
            onClick={() => {
              if (store.getState().pings[ip]?.pending) return;
              void act(async (c) => {
                await measureLatency(c, store, ip);
              });
            }}
          >
            Ping
          </button>
        )}
      </div>
    </div>
  );
}


function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
