// Each lab run owns a short id (namespace prefix `mt<id>-`, run dir /tmp/mtl/<id>) and records its
// owner PID + start time there BEFORE creating any namespace. Another run can then tell a leftover
// of a killed run (owner dead) from a lab running concurrently (owner alive) and removes only the former.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isAlive, killPidsSync, netnsList, netnsPids, procStartTime, runSync } from './sync-sys.js';

/** Short on purpose: unix socket paths under it must stay < 108 bytes. */
export const RUN_ROOT = '/tmp/mtl';
const ID_RE = /^[a-z0-9]{4}$/;
const NS_RE = /^mt([a-z0-9]{4})-/;

export interface RunClaim {
  id: string;
  prefix: string;
  dir: string;
}

interface OwnerRecord {
  pid: number;
  start: string;
  name: string;
}

export function claimRun(name: string): RunClaim {
  mkdirSync(RUN_ROOT, { recursive: true });
  for (let attempt = 0; attempt < 20; attempt++) {
    const id = [...randomBytes(4)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
    const dir = join(RUN_ROOT, id);
    try {
      mkdirSync(dir); // atomic: fails if another run took the id
    } catch {
      continue;
    }
    if (netnsList().some((n) => n.startsWith(`mt${id}-`))) {
      rmSync(dir, { recursive: true, force: true }); // id still used by a leftover; try another
      continue;
    }
    const rec: OwnerRecord = { pid: process.pid, start: procStartTime(process.pid) ?? '', name };
    // write-then-rename: a concurrent staleRuns() never reads a half-written record
    writeFileSync(join(dir, 'owner.json.tmp'), JSON.stringify(rec));
    renameSync(join(dir, 'owner.json.tmp'), join(dir, 'owner.json'));
    return { id, prefix: `mt${id}-`, dir };
  }
  throw new Error('could not allocate a lab run id');
}

function ownerAlive(id: string): boolean {
  try {
    const rec = JSON.parse(readFileSync(join(RUN_ROOT, id, 'owner.json'), 'utf8')) as OwnerRecord;
    return isAlive(rec.pid) && procStartTime(rec.pid) === rec.start;
  } catch {
    return false; // no record: its owner finished teardown of the dir or never wrote one
  }
}

/** Namespaces of one run id (prefix mt<id>-). */
export function runNamespaces(id: string): string[] {
  return netnsList().filter((n) => n.startsWith(`mt${id}-`));
}

/** Kill what runs in the namespaces, delete them, their /etc/netns dirs and the run dir. Synchronous. */
export function destroyRun(id: string, namespaces: readonly string[] = runNamespaces(id)): void {
  const pids = namespaces.flatMap(netnsPids);
  killPidsSync([...new Set(pids)]);
  for (const ns of namespaces) {
    runSync(['ip', 'netns', 'del', ns]);
    rmSync(join('/etc/netns', ns), { recursive: true, force: true });
  }
  // /etc/netns dirs whose namespace vanished already
  try {
    for (const d of readdirSync('/etc/netns')) if (d.startsWith(`mt${id}-`)) rmSync(join('/etc/netns', d), { recursive: true, force: true });
  } catch {
    /* no /etc/netns */
  }
  rmSync(join(RUN_ROOT, id), { recursive: true, force: true });
}

/** Ids of runs with leftovers (namespaces, /etc/netns dirs or run dirs) whose owner is dead. */
export function staleRuns(): string[] {
  const ids = new Set<string>();
  for (const n of netnsList()) {
    const m = NS_RE.exec(n);
    if (m) ids.add(m[1]!);
  }
  try {
    for (const d of readdirSync('/etc/netns')) {
      const m = NS_RE.exec(d);
      if (m) ids.add(m[1]!);
    }
  } catch {
    /* none */
  }
  try {
    for (const d of readdirSync(RUN_ROOT)) if (ID_RE.test(d) && existsSync(join(RUN_ROOT, d, 'owner.json'))) ids.add(d);
  } catch {
    /* none */
  }
  return [...ids].filter((id) => !ownerAlive(id)).sort();
}

/** Removes leftovers of killed runs only; returns the ids removed. */
export function cleanStaleRuns(log: (line: string) => void = () => {}): string[] {
  const ids = staleRuns();
  for (const id of ids) {
    const ns = runNamespaces(id);
    log(`lab: removing leftovers of a killed run mt${id}- (${ns.length} namespaces; owner process is gone)`);
    destroyRun(id, ns);
  }
  return ids;
}
