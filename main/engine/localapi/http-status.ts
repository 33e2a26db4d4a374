// Maps the common error codes to HTTP statuses for the LocalAPI (the code itself travels in the body).
import type { ErrorCode } from '../../../common/errors/errors.js';

export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'ERR_BAD_REQUEST':
      return 400;
    case 'ERR_FORBIDDEN':
      return 403;
    case 'ERR_NOT_FOUND':
    case 'ERR_NO_SUCH_PEER':
      return 404;
    case 'ERR_NEEDS_LOGIN':
    case 'ERR_NOT_EXIT_NODE':
      return 409;
    case 'ERR_TIMEOUT':
      return 504;
    case 'ERR_CONTROL_UNREACHABLE':
    case 'ERR_CONTROL_UNAUTHORIZED':
    case 'ERR_CONTROL_PROTOCOL':
      return 502;
    default:
      return 500;
  }
}
