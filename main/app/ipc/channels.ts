// IPC channel names, derived from the one call table in common/contract/api.ts (Mullvad's
// ipc-schema idea: names are generated, never typed twice). preload/channels.ts derives the
// same names with the same rule; test/unit/app/ipc-channels.test.ts proves they agree.
import { api, type ApiName } from '../../../common/contract/api.js';
import { appCalls, type AppCallName } from './app-contract.js';

export const CHANNEL_PREFIX = 'meshtray:';
export const engineChannel = (name: ApiName): string => `${CHANNEL_PREFIX}engine:${name}`;
export const appChannel = (name: AppCallName): string => `${CHANNEL_PREFIX}app:${name}`;
/** main -> renderer: one validated Notify per message (engine's watch stream). */
export const NOTIFY_CHANNEL = `${CHANNEL_PREFIX}notify`;
/** main -> renderer: the app shell's own state (login progress, updates, engine host). */
export const APP_STATE_CHANNEL = `${CHANNEL_PREFIX}app-state`;
/** renderer -> main (send): start / stop forwarding the Notify stream to this window. */
export const WATCH_START_CHANNEL = `${CHANNEL_PREFIX}watch-start`;
export const WATCH_STOP_CHANNEL = `${CHANNEL_PREFIX}watch-stop`;

export const engineCallNames = Object.keys(api) as ApiName[];
export const appCallNames = Object.keys(appCalls) as AppCallName[];
export const allInvokeChannels = (): string[] => [...engineCallNames.map(engineChannel), ...appCallNames.map(appChannel)];
