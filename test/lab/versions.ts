// Where the lab's pinned binaries live. The pins themselves are in versions.env (one file, shared
// with install.sh); this module parses it rather than repeating the numbers.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabVersions {
  tsVer: string;
  hsVer: string;
  labCache: string;
}

export interface LabBinaries {
  tailscaled: string;
  tailscale: string;
  derper: string;
  headscale: string;
}

/**
 * Parses the small subset of shell that versions.env uses: comments, `NAME=value` and
 * `NAME=${NAME:-default}` (the value is then taken from `env` when set).
 */
export function parseVersionsEnv(text: string, env: Record<string, string | undefined> = {}): LabVersions {
  const vars: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`versions.env: cannot parse line: ${line}`);
    const name = m[1]!;
    let value = m[2]!.replace(/^"(.*)"$/, '$1');
    const d = /^\$\{([A-Z_][A-Z0-9_]*):-(.*)\}$/.exec(value);
    if (d) value = env[d[1]!] || d[2]!;
    vars[name] = value;
  }
  const need = (k: string): string => {
    const v = vars[k];
    if (!v) throw new Error(`versions.env: ${k} is not set`);
    return v;
  };
  return { tsVer: need('TS_VER'), hsVer: need('HS_VER'), labCache: need('LAB_CACHE') };
}

/** The repository root (holds package.json), found from this file whether run from test/ or dist/test/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'lab', 'versions.env'))) return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('cannot find the repository root (package.json + test/lab/versions.env)');
    dir = up;
  }
}

export function labVersions(): LabVersions {
  return parseVersionsEnv(readFileSync(join(repoRoot(), 'test', 'lab', 'versions.env'), 'utf8'), process.env);
}

export function labBinaries(v: LabVersions = labVersions()): LabBinaries {
  const ts = join(v.labCache, 'bin', `tailscale-${v.tsVer}`);
  const hs = join(v.labCache, 'bin', `headscale-${v.hsVer}`);
  return {
    tailscaled: join(ts, 'tailscaled'),
    tailscale: join(ts, 'tailscale'),
    derper: join(ts, 'derper'),
    headscale: join(hs, 'headscale'),
  };
}
