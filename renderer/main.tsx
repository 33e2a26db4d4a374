// Renderer entry: connect the store to window.meshtray (preload in Electron, HTTP shim in tests)
// and mount the app.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MeshtrayClient } from './api/client.js';
import { App } from './app.js';
import { ServicesContext } from './context.js';
import { createUiStore } from './store/engine-store.js';

const raw = window.meshtray;
const rootEl = document.getElementById('root');
if (!raw || !rootEl) {
  document.body.textContent = 'Meshtray: the app bridge is missing (window.meshtray).';
} else {
  const client = new MeshtrayClient(raw);
  const store = createUiStore();
  client.onNotify((n) => store.getState().applyNotify(n));
  client.onAppState((s) => store.getState().setApp(s));
  void client.app('getAppState', {}).then(
    (s) => store.getState().setApp(s),
    () => undefined,
  );
  createRoot(rootEl).render(
    <StrictMode>
      <ServicesContext.Provider value={{ client, store }}>
        <App />
      </ServicesContext.Provider>
    </StrictMode>,
  );
}
