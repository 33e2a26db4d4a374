// The client and store handed to every component (no globals, so tests can mount with their own).
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { MeshtrayClient } from './api/client.js';
import type { UiState, UiStore } from './store/engine-store.js';

export interface Services {
  client: MeshtrayClient;
  store: UiStore;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) throw new Error('ServicesContext missing');
  return s;
}

export function useUi<T>(select: (s: UiState) => T): T {
  return useStore(useServices().store, select);
}

/**
 * Runs an API action; a failure lands in the store's lastError (shown by the error banner), never
 * thrown into React. `quiet`: error codes the screen already explains itself (no second message).
 */
export function useAction(): (fn: (c: MeshtrayClient) => Promise<unknown>, opts?: { quiet?: readonly string[] }) => Promise<void> {
  const { client, store } = useServices();
  return async (fn, opts) => {
    store.getState().setError(undefined);
    try {
      await fn(client);
    } catch (e) {
      const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : 'ERR_INTERNAL';
      if (opts?.quiet?.includes(code)) return;
      store.getState().setError({ code, message: e instanceof Error ? e.message : String(e) });
    }
  };
}
