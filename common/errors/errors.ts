// One error class with a stable code; errors cross IPC and the LocalAPI as {code, message, details}
// and are rebuilt on the other side, so the code survives every hop.
import { z } from 'zod';

export const ErrorCodes = [
  'ERR_BAD_REQUEST',
  'ERR_NOT_FOUND',
  'ERR_FORBIDDEN',
  'ERR_INTERNAL',
  'ERR_CONTROL_UNREACHABLE',
  'ERR_CONTROL_UNAUTHORIZED',
  'ERR_CONTROL_PROTOCOL',
  'ERR_NEEDS_LOGIN',
  'ERR_TIMEOUT',
  'ERR_NO_SUCH_PEER',
  'ERR_NOT_EXIT_NODE',
] as const;
export const ErrorCodeSchema = z.enum(ErrorCodes);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const ErrorBodySchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

const brand = Symbol.for('meshtray.error');

export class MeshtrayError extends Error {
  readonly [brand] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MeshtrayError';
  }
  static is(e: unknown): e is MeshtrayError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[brand] === true;
  }
  toBody(): ErrorBody {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
  static fromBody(b: ErrorBody): MeshtrayError {
    return new MeshtrayError(b.code, b.message, b.details);
  }
}
