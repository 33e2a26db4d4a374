// Runs in the harness page (Chromium) before the renderer bundle: builds window.meshtray with the
// SAME buildBridge() the Electron preload uses, over HTTP to the Node bridge instead of ipcRenderer.
import { buildBridge } from '../../../preload/bridge.js';

declare const MESHTRAY_WINDOW_TOKEN: string;

function stream(kind: 'notify' | 'app', cb: (v: unknown) => void): () => void {
  const es = new EventSource(`./events?stream=${kind}&token=${encodeURIComponent(MESHTRAY_WINDOW_TOKEN)}`);
  es.onmessage = (e: MessageEvent<string>) => {
    try {
      cb(JSON.parse(e.data));
    } catch {
      /* not JSON: the renderer's schema check would drop it anyway */
    }
  };
  return () => es.close();
}

const bridge = buildBridge({
  async invoke(channel, payload) {
    const res = await fetch(`./ipc/${encodeURIComponent(channel)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-meshtray-window': MESHTRAY_WINDOW_TOKEN },
      body: JSON.stringify(payload ?? {}),
    });
    return res.json();
  },
  onNotify: (cb) => stream('notify', cb),
  onAppState: (cb) => stream('app', cb),
});
(window as unknown as { meshtray: unknown }).meshtray = bridge;
