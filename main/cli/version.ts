// The CLI's version: the one in common/ (shared with meshtrayd).
export { packageVersion } from '../../common/version.js';
