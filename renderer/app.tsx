// The window: a connection bar, banners, then either sign-in or the tabbed main view.
import { useEffect, useState } from 'react';
import { useUi } from './context.js';
import { AccountScreen } from './features/account/account-screen.js';
import { ExitNodePicker } from './features/exit-node/exit-node-picker.js';
import { Banners } from './features/health/banners.js';
import { PeerList } from './features/peers/peer-list.js';
import { SettingsScreen } from './features/settings/settings-screen.js';
import { SignInScreen } from './features/sign-in/sign-in-screen.js';
import { ConnectionBar } from './features/status/connection-bar.js';
import { RouteCheck } from './features/why/route-check.js';

const TABS = [
  { id: 'peers', label: 'Devices' },
  { id: 'exit-node', label: 'Exit node' },
  { id: 'route-check', label: 'Route check' },
  { id: 'settings', label: 'Settings' },
  { id: 'account', label: 'Account' },
] as const;
type TabId = (typeof TABS)[number]['id'];

export function App() {
  // The app shell also knows when the engine's stream broke (daemon stopped): then nothing shown is current.
  const connected = useUi((s) => s.engine.connected && s.app?.engineReachable !== false);
  const state = useUi((s) => s.engine.state);
  const host = useUi((s) => s.app?.host);
  const [tab, setTab] = useState<TabId>('peers');
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(t);
  }, []);

  const needsLogin = state === 'NeedsLogin' || state === 'NoState' || state === undefined;
  return (
    <div className="app">
      <ConnectionBar />
      <Banners nowMs={now} />
      {!connected ? (
        <section className="screen engine-missing" aria-labelledby="engine-missing-title">
          <h1 id="engine-missing-title">Waiting for the Meshtray engine</h1>
          <p role="status">{host?.mode === 'unavailable' ? host.detail : 'Connecting to the engine… (is meshtrayd running?)'}</p>
        </section>
      ) : needsLogin ? (
        <SignInScreen />
      ) : (
        <>
          <nav aria-label="Sections" className="tabs">
            {TABS.map((t) => (
              <button key={t.id} type="button" aria-current={tab === t.id ? 'page' : undefined} onClick={() => setTab(t.id)}>
                {t.label}
              </button>
            ))}
          </nav>
          <main>
            {tab === 'peers' && <PeerList />}
            {tab === 'exit-node' && <ExitNodePicker />}
            {tab === 'route-check' && <RouteCheck />}
            {tab === 'settings' && <SettingsScreen />}
            {tab === 'account' && <AccountScreen />}
          </main>
        </>
      )}
    </div>
  );
}
