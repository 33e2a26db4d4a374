// The one-way event stream from the engine (the single owner of state) to every UI, CLI and test:
// tailscale's ipn.Notify idea. The first message on a watch carries the full picture
// (State, Prefs, Status); later ones carry only what changed.
import { z } from 'zod';
import { BackendStateSchema, StatusSchema } from './status.js';
import { PrefsSchema } from './prefs.js';

export const NotifySchema = z.object({
  Version: z.string().optional(),
  State: BackendStateSchema.optional(),
  Prefs: PrefsSchema.optional(),
  /** A fresh status snapshot; sent when the netmap or engine status changed (rate-limited by the engine). */
  Status: StatusSchema.optional(),
  /** The interactive login URL the user must open (the app opens it in the system browser, the CLI prints it). */
  BrowseToURL: z.string().optional(),
  /** Set once when an interactive or key login completed. */
  LoginFinished: z.object({}).optional(),
  ErrMessage: z.string().optional(),
  Health: z.array(z.string()).optional(),
});
export type Notify = z.infer<typeof NotifySchema>;
