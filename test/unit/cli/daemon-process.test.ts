// meshtrayd as a process: starts with tailscaled flags, serves the CLI over a 0600 socket,
// persists its machine key 0600, and shuts down cleanly on SIGTERM (socket removed, exit 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../../main/cli/cli.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(d, 'package.json')) && existsSync(join(d, 'tsconfig.base.json')))) {
    if (dirname(d) === d) throw new Error('repo root not found');
    d = dirname(d);
  }
  return d;
}

async function waitFor(pred: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('meshtrayd starts, answers status over its 0600 socket, and exits 0 on SIGTERM removing the socket', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshtrayd-proc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = repoRoot();
  const socket = join(dir, 'run', 'meshtrayd.sock');
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'main/daemon/main.ts'), `--statedir=${join(dir, 'state')}`, `--socket=${socket}`, '--tun=userspace-networking', '--port=0', '--no-logs-no-support'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await waitFor(async () => existsSync(socket), 20_000);
  assert.equal((await stat(socket)).mode & 0o777, 0o600);
  let out = '';
  const code = await runCli([`--socket=${socket}`, 'status', '--json'], { out: (s) => (out += s), err: () => {} });
  assert.equal(code, 0);
  const st = JSON.parse(out) as { BackendState: string; TUN: boolean };
  assert.equal(st.BackendState, 'NeedsLogin');
  assert.equal(st.TUN, false);
  const stateFile = join(dir, 'state', 'meshtrayd.state');
  assert.equal((await stat(stateFile)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
  const machine = (JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, string>)['_machinekey']!;
  assert.match(machine, /^privkey:[0-9a-f]{64}$/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.equal(existsSync(socket), false, 'socket removed on shutdown');
  assert.ok(!stderr.includes(machine) && !stderr.includes(machine.slice(8)), 'machine key not logged');
  assert.match(stderr, /"msg":"meshtrayd stopped"/);
});
