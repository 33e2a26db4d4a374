// The peer list: name, addresses (copy), OS, online, direct or relayed, latency after a ping.
// Search matches name, DNS name, addresses and OS; rows are precomputed once per status update.
import { useDeferredValue, useId, useMemo, useState } from 'react';
import { measureLatency } from '../../api/measure-latency.js';
import { useAction, useServices, useUi } from '../../context.js';
import { CopyButton } from '../../components/copy-button.js';
import { VirtualList } from '../../components/virtual-list.js';
import { filterRows, peerRows, type PeerRow } from '../../store/selectors.js';

export function PeerList() {
  const status = useUi((s) => s.engine.status);
  const rows = useMemo(() => peerRows(status), [status]);
  const [query, setQuery] = useState('');
  const deferred = useDeferredValue(query);
  const shown = useMemo(() => filterRows(rows, deferred), [rows, deferred]);
  const searchId = useId();
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
      <VirtualList items={shown} rowHeight={64} height={360} label="Devices" itemKey={(r) => r.id} render={(r) => <PeerRowView row={r} />} />
    </section>
  );
}

function PeerRowView({ row }: { row: PeerRow }) {
  const act = useAction();
  const { store } = useServices();
  const ip = row.addresses[0];
  const ping = useUi((s) => (ip ? s.pings[ip] : undefined));
  return (
    <div className={`peer ${row.online ? 'online' : 'offline'}`} data-testid="peer-row" data-peer-name={row.name}>
      <div className="peer-main">
        <span className="dot" aria-hidden="true" />
        <span className="peer-name">{row.name}</span>
        <span className="peer-os">{row.os || 'unknown OS'}</span>
        <span className="visually-hidden">{row.online ? 'online' : 'offline'}</span>
        <span className={`path path-${row.path}`} title={row.pathDetail}>
          {row.path === 'idle' ? '' : row.path}
          {ping?.latencyMs !== undefined ? ` · ${Math.round(ping.latencyMs)} ms` : ''}
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
            disabled={ping?.pending}
            onClick={() =>
              void act(async (c) => {
                await measureLatency(c, store, ip);
              })
            }
          >
            Ping
          </button>
        )}
      </div>
    </div>
  );
}
