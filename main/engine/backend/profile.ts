// What the backend persists (tailscale ipn/store + persist.Persist, our own layout): the machine key
// forever under `_machinekey`, the login (node keys) under `profile`, prefs under `prefs`.
// Everything read back is validated; a bad entry is treated as absent and logged, never echoed.
import { z } from 'zod';
import { PrivateKey } from '../keys/keys.js';
import type { Logger, Random, StateStore } from '../ports/ports.js';
import { PrefsSchema, defaultPrefs, type Prefs } from '../../../common/schemas/prefs.js';

export const MACHINE_KEY = '_machinekey';
export const PROFILE_KEY = 'profile';
export const PREFS_KEY = 'prefs';

const PrivText = z.string().regex(/^privkey:[0-9a-fA-F]{64}$/);
const ProfileSchema = z.object({
  ControlURL: z.string(),
  PrivateNodeKey: PrivText,
  OldPrivateNodeKey: PrivText.optional(),
  LoginName: z.string().optional(),
  UserID: z.number().optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

export async function loadOrCreateMachineKey(store: StateStore, random: Random, log: Logger): Promise<PrivateKey<'machine'>> {
  const text = await store.get(MACHINE_KEY);
  if (text !== undefined) {
    try {
      return PrivateKey.parse('machine', text);
    } catch {
      log.error('state: stored machine key is malformed; generating a new one (the node must register again)');
    }
  }
  const k = PrivateKey.generate('machine', random);
  await store.set(MACHINE_KEY, k.toSecretText());
  log.info('state: generated machine key', { machineKey: k.public.toString() });
  return k;
}

export async function loadProfile(store: StateStore, log: Logger): Promise<Profile | undefined> {
  return loadJSON(store, PROFILE_KEY, ProfileSchema, log);
}

export async function saveProfile(store: StateStore, p: Profile | undefined): Promise<void> {
  if (p) await store.set(PROFILE_KEY, JSON.stringify(p));
  else await store.delete(PROFILE_KEY);
}

export async function loadPrefs(store: StateStore, log: Logger): Promise<Prefs> {
  // Older or partial files get today's defaults for missing fields.
  const p = await loadJSON(store, PREFS_KEY, PrefsSchema.partial(), log);
  return { ...defaultPrefs(), ...(p ?? {}) } as Prefs;
}

export async function savePrefs(store: StateStore, p: Prefs): Promise<void> {
  await store.set(PREFS_KEY, JSON.stringify(p));
}

async function loadJSON<T>(store: StateStore, key: string, schema: z.ZodType<T>, log: Logger): Promise<T | undefined> {
  const text = await store.get(key);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    log.error(`state: stored ${key} is not JSON; ignoring it`);
    return undefined;
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    log.error(`state: stored ${key} failed validation; ignoring it`, { reason: r.error.issues[0]?.message });
    return undefined;
  }
  return r.data;
}
