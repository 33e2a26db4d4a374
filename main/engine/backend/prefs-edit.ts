// Turning LocalAPI calls into prefs edits (tailscale ipn.MaskedPrefs): what `up`/`login` change
// besides what the user passed, and whether an edit changes anything worth saving and announcing.
import type { ApiRequest } from '../../../common/contract/api.js';
import type { MaskedPrefs, Prefs } from '../../../common/schemas/prefs.js';

/** tailscale's ipn.DefaultControlURL, used when `up` names no --login-server. */
export const DEFAULT_CONTROL_URL = 'https://controlplane.tailscale.com';

/**
 * The edits `up` makes: the user's, plus running and logged in; the default control server when
 * none was ever set; a ControlURL without trailing slashes (so "http://hs/" and "http://hs" are the
 * same server and switching between them does not drop the login).
 */
export function upEdits(req: ApiRequest<'start'>, current: Prefs): MaskedPrefs {
  const edits: MaskedPrefs = { ...(req.Prefs ?? {}), WantRunning: true, LoggedOut: false };
  if (!edits.ControlURL && !current.ControlURL) edits.ControlURL = DEFAULT_CONTROL_URL;
  if (edits.ControlURL) edits.ControlURL = edits.ControlURL.replace(/\/+$/, '');
  return edits;
}

/** `current` with `mp` applied, and whether that differs from `current` (no save, no Notify if not). */
export function mergePrefs(current: Prefs, mp: MaskedPrefs): { next: Prefs; changed: boolean } {
  const next: Prefs = { ...current, ...mp };
  return { next, changed: JSON.stringify(next) !== JSON.stringify(current) };
}
