// Builds the object exposed as window.meshtray from an invoke/send/on transport. Kept free of
// electron so the Chromium test harness builds the very same object over HTTP.
// Every call resolves to the envelope {ok:true,value} | {ok:false,error:{code,message,details}};
// the renderer's client rebuilds MeshtrayError from it (contextBridge would drop an Error's code).
import type { ApiName } from '../common/contract/api.js';
import { appCallNames, appChannel, engineCallNames, engineChannel, type AppCallName } from './channels.js';

export interface BridgeTransport {
  invoke(channel: string, payload: unknown): Promise<unknown>;
  /** Subscribe to main's Notify and app-state pushes; returns the unsubscribe function. */
  onNotify(cb: (n: unknown) => void): () => void;
  onAppState(cb: (s: unknown) => void): () => void;
}

export type MeshtrayBridge = { [N in ApiName]: (req?: unknown) => Promise<unknown> } & {
  app: { [N in AppCallName]: (req?: unknown) => Promise<unknown> };
  onNotify(cb: (n: unknown) => void): () => void;
  onAppState(cb: (s: unknown) => void): () => void;
};

export function buildBridge(t: BridgeTransport): MeshtrayBridge {
  const engine: Record<string, (req?: unknown) => Promise<unknown>> = {};
  for (const name of engineCallNames) engine[name] = (req) => t.invoke(engineChannel(name), req ?? {});
  const app: Record<string, (req?: unknown) => Promise<unknown>> = {};
  for (const name of appCallNames) app[name] = (req) => t.invoke(appChannel(name), req ?? {});
  return Object.freeze({
    ...engine,
    app: Object.freeze(app),
    onNotify: (cb: (n: unknown) => void) => t.onNotify(cb),
    onAppState: (cb: (s: unknown) => void) => t.onAppState(cb),
  }) as MeshtrayBridge;
}
