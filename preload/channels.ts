// The IPC channel names, derived from the call table with the same rule as main/app/ipc/channels.ts
// (the preload may import only common/, electron and zod). test/unit/app/ipc-channels.test.ts
// asserts both sides produce identical names.
import { api, type ApiName } from '../common/contract/api.js';

export const CHANNEL_PREFIX = 'meshtray:';
export const engineChannel = (name: ApiName): string => `${CHANNEL_PREFIX}engine:${name}`;
export const appChannel = (name: string): string => `${CHANNEL_PREFIX}app:${name}`;
export const NOTIFY_CHANNEL = `${CHANNEL_PREFIX}notify`;
export const APP_STATE_CHANNEL = `${CHANNEL_PREFIX}app-state`;
export const WATCH_START_CHANNEL = `${CHANNEL_PREFIX}watch-start`;
export const WATCH_STOP_CHANNEL = `${CHANNEL_PREFIX}watch-stop`;

export const engineCallNames = Object.keys(api) as ApiName[];
/** The app shell's own calls (main/app/ipc/app-contract.ts `appCalls`). */
export const appCallNames = ['getAppState', 'checkServer', 'login', 'cancelLogin', 'checkForUpdates', 'installUpdate', 'copyText'] as const;
export type AppCallName = (typeof appCallNames)[number];
