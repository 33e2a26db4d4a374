// A killed meshtrayd leaves its routes, policy rules, iptables chains and resolv.conf behind; the
// next start repairs them from its state (router-state.json, the resolv.conf backup next to the
// state), comes back with the same exit node, and `meshtray down` then restores the namespace's
// resolv.conf byte for byte with no rule or chain left. Real meshtrayd, real tailscaled exit node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { approveExitNode, EXIT_HOST, EXIT_IP, webSeenFrom } from '../support/os-scenarios.js';

test('meshtrayd killed with an exit node and accept-dns: the next start repairs, down restores exactly', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    {
      name: 'os-crash',
      derpRegions: 1,
      hosts: [
        { name: 'm1', nat: 'easy', peer: 'meshtrayd' },
        EXIT_HOST,
      ],
    },
    async (lab) => {
      const m1 = lab.host('m1');
      const mt = lab.peer('m1');
      const web = await lab.addWebHost();
      const resolvPath = join('/etc/netns', m1.ns, 'resolv.conf');
      const resolvBefore = readFileSync(resolvPath);
      const inM1 = async (argv: string[]) => (await lab.exec('m1', argv, 15_000)).stdout;
      const seen = () => webSeenFrom(lab, 'm1', web);
      const rules52 = async () => (await inM1(['ip', 'rule', 'show'])).split('\n').filter((l) => /lookup 52/.test(l)).length;
      const chains = async () => (await inM1(['iptables-save'])).split('\n').filter((l) => /^:mt-/.test(l)).sort();

      await approveExitNode(lab.headscale, 'exit');
      await waitFor('set --exit-node=exit --accept-dns', async () => {
        const r = await mt.cli(['set', '--exit-node=exit', '--accept-dns']);
        return r.code === 0 || r.stderr.trim();
      }, { timeoutMs: 60_000, intervalMs: 1000 });
      await waitFor('web sees the exit node', async () => (await seen()) === EXIT_IP || `web saw ${await seen()}`, { timeoutMs: 30_000, intervalMs: 500 });
      assert.match(readFileSync(resolvPath, 'utf8'), /nameserver 100\.100\.100\.100/);
      const chainsBefore = await chains();
      const rulesBefore = await rules52();
      assert.ok(rulesBefore >= 1);
      assert.ok(chainsBefore.length > 0);

      // kill -9: nothing gets restored
      const pid = mt.pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor('meshtrayd gone', async () => {
        try {
          process.kill(pid, 0);
          return 'still there';
        } catch {
          return true;
        }
      }, { timeoutMs: 10_000, intervalMs: 100 });
      assert.match(await inM1(['ip', 'rule', 'show']), /lookup 52/, 'the killed run left its rules');
      assert.match(readFileSync(resolvPath, 'utf8'), /nameserver 100\.100\.100\.100/, 'and its resolv.conf');

      // restart: repair, then the same prefs (exit node) come back
      await mt.start();
      await waitFor('back through the exit node', async () => (await seen()) === EXIT_IP || `web saw ${await seen()}`, { timeoutMs: 60_000, intervalMs: 500 });
      assert.deepEqual(await chains(), chainsBefore, 'no duplicate or stale chains');
      assert.equal(await rules52(), rulesBefore, 'policy rules not doubled');

      await mt.cli(['down']);
      assert.deepEqual(readFileSync(resolvPath), resolvBefore, 'resolv.conf byte for byte, across the crash');
      assert.doesNotMatch(await inM1(['ip', 'rule', 'show']), /lookup 52/);
      assert.deepEqual(await chains(), []);
      assert.equal(await seen(), m1.publicIp, 'direct again after down');
    },
  );
});
