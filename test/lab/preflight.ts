// Checks before building anything: one clear line per problem, saying how to fix it.
import { accessSync, constants, existsSync } from 'node:fs';
import { LabError } from './errors.js';
import { LAB_PATH } from './exec.js';
import { labBinaries, labVersions, type LabBinaries } from './versions.js';

const TOOLS: Array<[string, string]> = [
  ['ip', 'iproute2'],
  ['iptables', 'iptables'],
  ['curl', 'curl'],
  ['tc', 'iproute2'],
  ['conntrack', 'conntrack'],
];

function onPath(cmd: string): boolean {
  const dirs = `${process.env.PATH ?? ''}:${LAB_PATH}`.split(':').filter(Boolean);
  return dirs.some((d) => {
    try {
      accessSync(`${d}/${cmd}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the lab needs root (network namespaces, TUN): run as root, e.g. `sudo npm test`';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (TUN devices needed)';
  return undefined;
}

/** Throws a LabError listing every missing tool/binary, one per line. */
export function preflight(): LabBinaries {
  const why = labUnavailableReason();
  if (why) throw new LabError(why);
  const problems: string[] = [];
  for (const [cmd, pkg] of TOOLS) if (!onPath(cmd)) problems.push(`missing tool '${cmd}' (Debian package ${pkg})`);
  const v = labVersions();
  const bins = labBinaries(v);
  for (const [name, path] of Object.entries(bins)) {
    const ver = name === 'headscale' ? v.hsVer : v.tsVer;
    if (!existsSync(path)) problems.push(`missing ${name} ${ver} at ${path}`);
  }
  if (problems.length) throw new LabError(problems.join('\n'), 'run `sudo bash test/lab/install.sh`');
  return bins;
}
