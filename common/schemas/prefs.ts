// Preferences of the local node, with tailscale's ipn.Prefs field names so that `status --json`
// and `debug prefs` read the same as tailscale's. The engine's backend is the only writer;
// every UI edits through MaskedPrefs (only the fields it sets change).
import { z } from 'zod';

export const PrefsSchema = z.object({
  ControlURL: z.string(),
  WantRunning: z.boolean(),
  LoggedOut: z.boolean(),
  Hostname: z.string(),
  /** --accept-routes: use other peers' approved subnet routes (off by default on Linux, as in tailscale). */
  RouteAll: z.boolean(),
  /** --exit-node: the stable node ID of the chosen exit node, or "" for none. */
  ExitNodeID: z.string(),
  /** --exit-node given as a tailnet IP before the netmap resolves it to an ID. */
  ExitNodeIP: z.string(),
  ExitNodeAllowLANAccess: z.boolean(),
  /** --accept-dns: install MagicDNS as the OS resolver. */
  CorpDNS: z.boolean(),
  ShieldsUp: z.boolean(),
  AdvertiseTags: z.array(z.string()),
  AdvertiseRoutes: z.array(z.string()),
  /** --snat-subnet-routes=false sets NoSNAT. */
  NoSNAT: z.boolean(),
  NoStatefulFiltering: z.boolean(),
});
export type Prefs = z.infer<typeof PrefsSchema>;

export const defaultPrefs = (): Prefs => ({
  ControlURL: '',
  WantRunning: false,
  LoggedOut: false,
  Hostname: '',
  RouteAll: false,
  ExitNodeID: '',
  ExitNodeIP: '',
  ExitNodeAllowLANAccess: false,
  CorpDNS: true,
  ShieldsUp: false,
  AdvertiseTags: [],
  AdvertiseRoutes: [],
  NoSNAT: false,
  NoStatefulFiltering: true,
});

/** A partial edit: only the fields present change (tailscale's MaskedPrefs, without the XSet booleans). */
export const MaskedPrefsSchema = PrefsSchema.partial().strict();
export type MaskedPrefs = z.infer<typeof MaskedPrefsSchema>;
