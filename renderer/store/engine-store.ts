// The renderer's store mirrors the engine's Notify stream and the app shell's state. It is never
// a second source of truth: user actions go through the API, and what the UI shows changes only
// when the engine publishes (state flows one way: engine -> Notify -> store -> UI).
import { createStore } from 'zustand/vanilla';
import type { Notify } from '../../common/schemas/notify.js';
import type { Prefs } from '../../common/schemas/prefs.js';
import type { BackendState, Status } from '../../common/schemas/status.js';
import type { AppState } from '../../common/contract/app.js';

export interface PingView {
  pending: boolean;
  latencyMs?: number;
  via?: string;
  /** The path the pong came back on (Endpoint: direct; a DERP region: relayed). */
  path?: 'direct' | 'relayed';
  error?: string;
  /** When the answer (or the failure) came, ms since the epoch. */
  at?: number;
}

export interface EngineView {
  /** True once the first Notify arrived on the current watch. */
  connected: boolean;
  state?: BackendState;
  prefs?: Prefs;
  status?: Status;
  health: string[];
  errMessage?: string;
  browseToURL?: string;
}

export interface UiState {
  engine: EngineView;
  app?: AppState;
  /** The last failed action, as the user should read it. */
  lastError?: { code: string; message: string };
  /** Results of pings the user asked for (measurements, not engine state). */
  pings: Record<string, PingView>;
  applyNotify(n: Notify): void;
  setApp(s: AppState): void;
  setError(e: { code: string; message: string } | undefined): void;
  setPing(ip: string, p: PingView): void;
  engineLost(): void;
}

export type UiStore = ReturnType<typeof createUiStore>;

export function createUiStore() {
  return createStore<UiState>()((set) => ({
    engine: { connected: false, health: [] },
    pings: {},
    applyNotify: (n) =>
      set((s) => {
        const e: EngineView = { ...s.engine, connected: true };
        if (n.Prefs) e.prefs = n.Prefs;
        if (n.Status) {
          e.status = n.Status;
          e.state = n.Status.BackendState;
          if (n.Status.Health) e.health = n.Status.Health;
        }
        if (n.State) {
          e.state = n.State;
          if (e.status) e.status = { ...e.status, BackendState: n.State };
        }
        if (n.Health) e.health = n.Health;
        if (n.ErrMessage !== undefined) e.errMessage = n.ErrMessage;
        if (n.BrowseToURL !== undefined) e.browseToURL = n.BrowseToURL;
        if (e.state === 'Running') {
          delete e.browseToURL;
        }
        return { engine: e };
      }),
    setApp: (app) => set({ app }),
    setError: (lastError) => set(lastError ? { lastError } : { lastError: undefined }),
    setPing: (ip, p) => set((s) => ({ pings: { ...s.pings, [ip]: p } })),
    engineLost: () => set((s) => ({ engine: { ...s.engine, connected: false } })),
  }));
}
