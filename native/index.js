// Loads the compiled data-plane addon (built by `npm run build:native`). ESM wrapper around the
// CommonJS-only `require` of a `.node` file. MESHTRAY_NATIVE_PATH overrides the location (used by
// packaged builds that keep the addon next to the daemon).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const addonPath = process.env.MESHTRAY_NATIVE_PATH || fileURLToPath(new URL('./meshtray-native.node', import.meta.url));

if (!existsSync(addonPath)) {
  throw new Error(`meshtray native addon not found at ${addonPath}: build it with \`npm run build:native\` (needs cargo)`);
}

/** @type {import('./index.d.ts').NativeAddon} */
const addon = require(addonPath);
export const DataPlane = addon.DataPlane;
export const openTunFd = addon.openTunFd;
export const openUdpFd = addon.openUdpFd;
export const sendFds = addon.sendFds;
export const helperExchange = addon.helperExchange;
export const closeFd = addon.closeFd;
