// Site to site (tailscale's "site-to-site networking" guide): two LANs joined by subnet routers, one
// a Meshtray node (os-agent.ts) and one real tailscaled, both with --snat-subnet-routes=false and
// accept-routes, routes approved in Headscale, a policy that lets the two LANs talk. Hosts on each
// LAN reach each other, and each side sees the other's own LAN address (no SNAT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { Agent } from './agent-driver.js';

const POLICY = `{
  "acls": [
    { "action": "accept", "src": ["*"], "dst": ["*:*"] },
    { "action": "accept", "src": ["10.30.0.0/24"], "dst": ["10.20.0.0/24:*"] },
    { "action": "accept", "src": ["10.20.0.0/24"], "dst": ["10.30.0.0/24:*"] },
  ],
}`;

test('site to site: Meshtray and tailscaled subnet routers, source addresses preserved', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    {
      derpRegions: 1,
      hosts: [
        { name: 'm1', nat: 'none', publicIp: '198.51.100.80', peer: 'none', lan: { prefix: '10.30.0', hosts: ['lana'] } },
        { name: 'sr', nat: 'none', publicIp: '198.51.100.60', lan: { prefix: '10.20.0', hosts: ['lanb'] }, upArgs: ['--advertise-routes=10.20.0.0/24', '--snat-subnet-routes=false', '--accept-routes'] },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      await hs.setPolicy(POLICY);
      const agent = Agent.start(lab, 'm1', await lab.authKey());
      t.after(() => agent.stop());
      await agent.wait((e) => e.event === 'ready', 90_000, 'agent ready');
      // Echo servers on both LANs: they answer with the caller's address.
      for (const h of ['lana', 'lanb']) {
        const srv = spawn('ip', ['netns', 'exec', lab.host(h).ns, process.execPath, '-e', "require('http').createServer((q,s)=>s.end(q.socket.remoteAddress)).listen(80, '0.0.0.0')"], { stdio: 'ignore' });
        t.after(() => srv.kill('SIGKILL'));
      }
      await agent.call({ cmd: 'set', prefs: { AdvertiseRoutes: ['10.30.0.0/24'], NoSNAT: true, RouteAll: true } }, 'set');
      await waitFor('headscale sees m1 advertising', async () => ((await hs.nodeByName('m1'))?.available_routes ?? []).includes('10.30.0.0/24') || 'not yet', { timeoutMs: 30_000, intervalMs: 300 });
      await hs.approveRoutes((await hs.nodeByName('m1'))!.id, ['10.30.0.0/24']);
      await hs.approveRoutes((await hs.nodeByName('sr'))!.id, ['10.20.0.0/24']);

      const lana = lab.host('lana').ip;
      const lanb = lab.host('lanb').ip;
      const get = async (from: string, to: string) => (await lab.exec(from, ['curl', '-s', '--max-time', '3', `http://${to}/`], 10_000)).stdout.trim();
      let lastSet: unknown;
      await waitFor('lana reaches lanb', async () => {
        lastSet = await agent.call({ cmd: 'set', prefs: {} }, 'set'); // re-apply with the latest netmap
        return (await get('lana', lanb)) === lana || 'not yet';
      }, { timeoutMs: 60_000, intervalMs: 1000 }).catch(async (e: unknown) => {
        const d = async (host: string, argv: string[]) => `${host}$ ${argv.join(' ')}\n${(await lab.exec(host, argv)).stdout}`;
        process.stderr.write(
          [
            JSON.stringify(lastSet),
            await d('m1', ['ip', 'route', 'show', 'table', '52']),
            await d('m1', ['ip', 'route', 'get', lanb]),
            await d('m1', ['iptables', '-nvxL']),
            await d('sr', ['ip', 'route', 'show', 'table', '52']),
            await d('sr', ['iptables', '-nvxL']),
            (await lab.peer('sr').cli(['status'])).stdout,
            JSON.stringify(await hs.listNodes()),
          ].join('\n'),
        );
        throw e;
      });
      assert.equal(await get('lana', lanb), lana, 'lanb sees lana\'s own address');
      await waitFor('lanb reaches lana', async () => (await get('lanb', lana)) === lanb || 'not yet', { timeoutMs: 30_000, intervalMs: 500 });
      assert.equal(await get('lanb', lana), lanb, 'lana sees lanb\'s own address');
      const w = (await agent.call({ cmd: 'why', dest: lanb }, 'why'))['answer'] as { verdict: string; node?: { name: string } };
      assert.deepEqual([w.verdict, w.node?.name], ['subnet-router', 'sr']);
      // no MASQUERADE installed on our side with NoSNAT
      assert.doesNotMatch((await lab.exec('m1', ['iptables-save', '-t', 'nat'])).stdout, /MASQUERADE/);
      assert.equal((await lab.exec('m1', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
    },
  );
});
