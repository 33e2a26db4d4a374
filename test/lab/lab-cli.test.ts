// `npm run lab:up` = `node dist/test/lab/cli.js up`: brings up the embedded tailnet, prints the
// peers and how to reach them, stays up until Ctrl-C, then leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { netnsList } from './sync-sys.js';
import { skipUnlessLab } from './with-lab.js';

test('lab cli: `up` prints a running tailnet and the commands to use it; Ctrl-C tears it down', { timeout: 120_000 }, async (t) => {
  if (skipUnlessLab(t)) return;
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const cli = fileURLToPath(new URL(`./cli.${ext}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, cli, 'up'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (out.includes('Press Ctrl-C')) {
          clearInterval(timer);
          resolve();
        }
      }, 100);
      void exited.then((c) => {
        clearInterval(timer);
        reject(new Error(`cli up exited ${c}: ${out}`));
      });
    });
    // the two reference peers are Running and see each other
    assert.match(out, /^a1 +tailscaled Running +100\.64\.0\.\d+ .*peers: .*b1/m);
    assert.match(out, /^b1 +tailscaled Running +100\.64\.0\.\d+ .*peers: .*a1/m);
    const prefix = /namespaces (mt[a-z0-9]{4}-)\*/.exec(out)?.[1];
    assert.ok(prefix, out);
    assert.match(out, new RegExp(`ip netns exec ${prefix}a1 \\S+/tailscale --socket=\\S+ status`));
    // The Meshtray node: either joined with the exact `meshtray status` command, or a one-line reason.
    assert.match(out, /ip netns exec mt\S+-m1 node \S*bin\/meshtray\.js --socket=\S+ status|Meshtray node (m1 did not come up|skipped): .+/);
    assert.ok(netnsList().some((n) => n.startsWith(prefix)), 'lab namespaces exist while up runs');

    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.deepEqual(netnsList().filter((n) => n.startsWith(prefix)), [], 'Ctrl-C removed the namespaces');
    assert.equal(existsSync(`/tmp/mtl/${prefix.slice(2, 6)}`), false, 'and the run dir');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  }
});
