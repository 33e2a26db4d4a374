// The daemon's version: the one in common/ (shared with the meshtray CLI).
export { packageVersion } from '../../common/version.js';
