// Site to site through the product (tailscale's "site-to-site networking" guide): two LANs joined by
// subnet routers, a REAL meshtrayd configured with `meshtray set --advertise-routes=10.30.0.0/24
// --snat-subnet-routes=false --accept-routes` and a REAL tailscaled with the same flags, routes
// approved in Headscale. Hosts on each LAN reach each other with their own source addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';

const POLICY = `{
  "acls": [
    { "action": "accept", "src": ["*"], "dst": ["*:*"] },
    { "action": "accept", "src": ["10.30.0.0/24"], "dst": ["10.20.0.0/24:*"] },
    { "action": "accept", "src": ["10.20.0.0/24"], "dst": ["10.30.0.0/24:*"] },
  ],
}`;

test('site to site: meshtrayd and tailscaled subnet routers with --snat-subnet-routes=false', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    {
      name: 'os-s2s',
      derpRegions: 1,
      hosts: [
        { name: 'm1', nat: 'none', publicIp: '198.51.100.80', peer: 'meshtrayd', lan: { prefix: '10.30.0', hosts: ['lana'] } },
        { name: 'sr', nat: 'none', publicIp: '198.51.100.60', lan: { prefix: '10.20.0', hosts: ['lanb'] }, upArgs: ['--advertise-routes=10.20.0.0/24', '--snat-subnet-routes=false', '--accept-routes'] },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const mt = lab.peer('m1');
      await hs.setPolicy(POLICY);
      for (const h of ['lana', 'lanb']) {
        const srv = spawn('ip', ['netns', 'exec', lab.host(h).ns, process.execPath, '-e', "require('http').createServer((q,s)=>s.end(q.socket.remoteAddress)).listen(80, '0.0.0.0')"], { stdio: 'ignore' });
        t.after(() => srv.kill('SIGKILL'));
      }
      const set = await mt.cli(['set', '--advertise-routes=10.30.0.0/24', '--snat-subnet-routes=false', '--accept-routes']);
      assert.equal(set.code, 0, set.stderr);
      const prefs = JSON.parse((await mt.cli(['debug', 'prefs'])).stdout) as { AdvertiseRoutes: string[]; NoSNAT: boolean; RouteAll: boolean };
      assert.deepEqual([prefs.AdvertiseRoutes, prefs.NoSNAT, prefs.RouteAll], [['10.30.0.0/24'], true, true]);
      await waitFor('headscale sees m1 advertising', async () => ((await hs.nodeByName('m1'))?.available_routes ?? []).includes('10.30.0.0/24') || 'not yet', { timeoutMs: 30_000, intervalMs: 300 });
      await hs.approveRoutes((await hs.nodeByName('m1'))!.id, ['10.30.0.0/24']);
      await hs.approveRoutes((await hs.nodeByName('sr'))!.id, ['10.20.0.0/24']);

      const lana = lab.host('lana').ip;
      const lanb = lab.host('lanb').ip;
      const get = async (from: string, to: string) => (await lab.exec(from, ['curl', '-s', '--max-time', '3', `http://${to}/`], 10_000)).stdout.trim();
      await waitFor('lana reaches lanb', async () => (await get('lana', lanb)) === lana || 'not yet', { timeoutMs: 60_000, intervalMs: 1000 });
      assert.equal(await get('lana', lanb), lana, "lanb sees lana's own address");
      await waitFor('lanb reaches lana', async () => (await get('lanb', lana)) === lanb || 'not yet', { timeoutMs: 30_000, intervalMs: 500 });
      assert.equal(await get('lanb', lana), lanb, "lana sees lanb's own address");
      const w = JSON.parse((await mt.cli(['why', '--json', lanb])).stdout) as { verdict: string; node?: { name: string } };
      assert.deepEqual([w.verdict, w.node?.name], ['subnet-router', 'sr']);
      assert.doesNotMatch((await lab.exec('m1', ['iptables-save', '-t', 'nat'])).stdout, /MASQUERADE/, 'no SNAT with --snat-subnet-routes=false');
      assert.equal((await lab.exec('m1', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
    },
  );
});
