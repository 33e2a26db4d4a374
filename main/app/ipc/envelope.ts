// What crosses the IPC boundary for every invoke: a success value or a structured error.
// Errors keep their stable code (style.md habit 2; Mullvad loses everything but the message).
import { z } from 'zod';
import { ErrorBodySchema, MeshtrayError, type ErrorBody } from '../../../common/errors/errors.js';

export const IpcEnvelopeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }),
]);
export type IpcEnvelope = z.infer<typeof IpcEnvelopeSchema>;

export const success = (value: unknown): IpcEnvelope => ({ ok: true, value });
export const failure = (error: ErrorBody): IpcEnvelope => ({ ok: false, error });

/** Any thrown value -> a body that is safe to show: MeshtrayErrors keep code and details, others become ERR_INTERNAL. */
export function errorToBody(e: unknown): ErrorBody {
  if (MeshtrayError.is(e)) return e.toBody();
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'ERR_INTERNAL', message };
}
