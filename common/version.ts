// Meshtray's version, one source for the CLI and the daemon. common/ may not read files (no node:*),
// so it is a constant; test/unit/common/version.test.ts fails when it drifts from package.json.
export const MESHTRAY_VERSION = '0.1.0';

export function packageVersion(): string {
  return MESHTRAY_VERSION;
}
