// The sandboxed preload: exposes window.meshtray and nothing else (no ipcRenderer, no Node).
// Bundled by scripts/build-renderer.mjs into one CommonJS file, as sandboxed preloads require.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { buildBridge } from './bridge.js';
import { APP_STATE_CHANNEL, NOTIFY_CHANNEL, WATCH_START_CHANNEL, WATCH_STOP_CHANNEL } from './channels.js';

function listen(channel: string, cb: (v: unknown) => void): () => void {
  // Wrap so the renderer never receives the IpcRendererEvent (it exposes `sender`).
  const fn = (_e: IpcRendererEvent, v: unknown): void => cb(v);
  ipcRenderer.on(channel, fn);
  return () => ipcRenderer.removeListener(channel, fn);
}

let watchers = 0;
const bridge = buildBridge({
  invoke: (channel, payload) => ipcRenderer.invoke(channel, payload),
  onNotify(cb) {
    const off = listen(NOTIFY_CHANNEL, cb);
    // Each start makes main open a fresh engine watch, whose first message is the full snapshot.
    if (watchers++ === 0) ipcRenderer.send(WATCH_START_CHANNEL);
    return () => {
      off();
      if (--watchers === 0) ipcRenderer.send(WATCH_STOP_CHANNEL);
    };
  },
  onAppState: (cb) => listen(APP_STATE_CHANNEL, cb),
});

contextBridge.exposeInMainWorld('meshtray', bridge);
