// Meshtray as the exit node (tailscale's "use an exit node" guide, seen from the other side): the
// Meshtray node advertises 0.0.0.0/0 and ::/0 (Hostinfo.RoutableIPs), Headscale approves them, a
// real tailscaled client selects it; the client's traffic to an internet host leaves from the
// Meshtray node's address (forwarding + SNAT in our own chains), and stops when it is unadvertised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerByHostName } from '../../lab/peer-output.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { Agent } from './agent-driver.js';
import { approveExitNode, digQuad100, webSeenFrom } from '../support/os-scenarios.js';

test('a tailscaled client uses a Meshtray exit node', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    {
      derpRegions: 1,
      hosts: [
        { name: 'm1', nat: 'none', publicIp: '198.51.100.80', peer: 'none' },
        { name: 'c1', nat: 'easy' },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const web = await lab.addWebHost();
      const agent = Agent.start(lab, 'm1', await lab.authKey());
      t.after(() => agent.stop());
      await agent.wait((e) => e.event === 'ready', 90_000, 'agent ready');
      const c1 = lab.peer('c1');
      // quad-100 through the TUN intercept (the agent's default)
      const c1ip = (await c1.ip()).find((x) => !x.includes(':'))!;
      await waitFor('quad-100 via the TUN answers c1', async () => (await digQuad100(lab, 'm1', ['c1.tailnet.test'])) === c1ip || 'not yet', { timeoutMs: 20_000, intervalMs: 300 });
      const seen = () => webSeenFrom(lab, 'c1', web);
      assert.equal(await seen(), lab.host('c1').publicIp);

      await agent.call({ cmd: 'set', prefs: { AdvertiseRoutes: ['0.0.0.0/0', '::/0'] } }, 'set');
      await waitFor('headscale sees m1 offering an exit node', async () => ((await hs.nodeByName('m1'))?.available_routes ?? []).includes('0.0.0.0/0') || 'not yet', { timeoutMs: 30_000, intervalMs: 300 });
      await approveExitNode(hs, 'm1');
      await c1.waitStatus('m1 offered as exit node', (s) => peerByHostName(s, 'm1')?.ExitNodeOption === true, 30_000);
      const r = await c1.cli(['set', '--exit-node=m1']);
      assert.equal(r.code, 0, r.stderr);
      await waitFor('web sees the Meshtray exit node', async () => (await seen()) === '198.51.100.80' || `web saw ${await seen()}`, { timeoutMs: 30_000, intervalMs: 500 });
      assert.match((await lab.exec('m1', ['iptables-save', '-t', 'nat'])).stdout, /-A mt-postrouting -m mark --mark 0x40000\/0xff0000 -j MASQUERADE/);
      assert.equal((await lab.exec('m1', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');

      // Stop advertising: the client can no longer use it (tailscale blackholes rather than leaks).
      await agent.call({ cmd: 'set', prefs: { AdvertiseRoutes: [] } }, 'set');
      assert.equal((await lab.exec('m1', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '0', 'forwarding back to its old value');
      await waitFor('web no longer reached through m1', async () => (await seen()) !== '198.51.100.80' || 'still through m1', { timeoutMs: 30_000, intervalMs: 500 });
    },
  );
});
