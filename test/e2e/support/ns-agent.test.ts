// The agent harness hands a pre-auth key to an agent in a namespace without putting it on any
// command line (`ps` shows argv to every user).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NsAgent, siblingScriptArgv } from './ns-agent.js';

const isCI = process.env.CI === 'true';
const root = process.getuid?.() === 0;
if (!root && !isCI) console.error('ns-agent.test: SKIPPED (needs root for a network namespace)');

test('the agent gets its config from the environment: the key is in no command line and not left in its environment', { skip: !root && !isCI, timeout: 60_000 }, async () => {
  const ns = `mtag-${process.pid % 100000}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
  const secret = `hskey-auth-${'x'.repeat(8)}-SECRET${process.pid}`;
  const agent = NsAgent.start(ns, siblingScriptArgv(import.meta.url, 'echo-agent'), { authKey: secret, hostname: 'm1' });
  try {
    const e = await agent.waitFor((ev) => ev.event === 'config', 30_000, 'config event');
    assert.deepEqual(e.config, { authKey: secret, hostname: 'm1' }, 'the agent received the config');
    assert.ok(!(e.argv as string[]).join(' ').includes(secret), 'not in the agent\'s argv');
    assert.ok(!String(e.cmdline).includes(secret), 'not in /proc/<agent>/cmdline');
    assert.equal(e.envAfterRead, null, 'removed from the agent\'s environment once read');
    // The process we spawned (`ip netns exec …`, which execs node in place) has the same pid.
    const ours = readFileSync(`/proc/${agent.proc.pid}/cmdline`, 'utf8');
    assert.ok(!ours.includes(secret), 'not in the spawned process\'s command line either');
  } finally {
    await agent.stop();
    spawnSync('ip', ['netns', 'del', ns]);
  }
});
