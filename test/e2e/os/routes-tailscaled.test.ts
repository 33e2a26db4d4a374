// Our route computation against the real thing: a tailscaled client (a1) behind a NAT, with a
// subnet router (sr, 10.20.0.0/24 approved in Headscale) and an exit node (exit, /0 approved). For
// each setting a user would try (accept-routes; exit node with and without LAN access; exit node
// cleared), the table-52 routes tailscaled installed must equal the table we compute from the same
// netmap (read from a1's `tailscale debug netmap`), the same prefs and a1's interfaces. And `why`
// agrees with the kernel's `ip route get` on a1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetMap } from '../../../main/engine/netmap/netmap.js';
import { computeRouteTable, type LocalInterface, type RoutePrefs } from '../../../main/engine/routes/route-table.js';
import { why } from '../../../main/engine/routes/why.js';
import { peerByHostName } from '../../lab/peer-output.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import type { Lab } from '../../lab/lab.js';
import { netmapOfTailscaled } from '../support/tailscaled-netmap.js';

/** tailscaled's table 52 as a set of "prefix" and "throw prefix" strings. */
async function table52(lab: Lab): Promise<string[]> {
  const out: string[] = [];
  for (const fam of ['-4', '-6']) {
    const r = await lab.exec('a1', ['ip', fam, 'route', 'show', 'table', '52']);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const parts = line.trim().split(/\s+/);
      const isThrow = parts[0] === 'throw';
      let p = isThrow ? parts[1]! : parts[0]!;
      if (p === 'default') p = fam === '-4' ? '0.0.0.0/0' : '::/0';
      if (!p.includes('/')) p += fam === '-4' ? '/32' : '/128';
      out.push(isThrow ? `throw ${p}` : p);
    }
  }
  return out.sort();
}

async function interfaces(lab: Lab): Promise<LocalInterface[]> {
  const r = await lab.exec('a1', ['ip', '-j', 'addr', 'show']);
  const list = JSON.parse(r.stdout) as { ifname: string; link_type?: string; addr_info?: { local: string; prefixlen: number }[] }[];
  return list.map((i) => ({ name: i.ifname, loopback: i.link_type === 'loopback', addresses: (i.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) }));
}

function netmapOf(lab: Lab): Promise<NetMap> {
  return netmapOfTailscaled(lab.peer('a1'));
}

const PREFS: RoutePrefs = { RouteAll: false, ExitNodeID: '', ExitNodeIP: '', ExitNodeAllowLANAccess: false, AdvertiseRoutes: [], NoSNAT: false, NoStatefulFiltering: true };

test('route table equals what tailscaled installs, for accept-routes and exit node with/without LAN access', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    {
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'sr', nat: 'none', publicIp: '198.51.100.60', lan: { prefix: '10.20.0', hosts: ['lanhost'] }, upArgs: ['--advertise-routes=10.20.0.0/24'] },
        { name: 'exit', nat: 'none', publicIp: '198.51.100.70', ipForward: true, upArgs: ['--advertise-exit-node'] },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const a1 = lab.peer('a1');
      await hs.approveRoutes((await hs.nodeByName('sr'))!.id, ['10.20.0.0/24']);
      await hs.approveRoutes((await hs.nodeByName('exit'))!.id, ['0.0.0.0/0', '::/0']);
      const ifaces = await interfaces(lab);

      const compare = async (what: string, prefs: RoutePrefs, expect: (r: string[]) => boolean) => {
        let theirs: string[] = [];
        await waitFor(`a1 table 52 (${what})`, async () => {
          theirs = await table52(lab);
          return expect(theirs) || theirs.join(', ');
        }, { timeoutMs: 30_000, intervalMs: 300 });
        const nm = await netmapOf(lab);
        const exitNode = nm.peers().find((p) => p.Hostinfo?.Hostname === 'exit');
        const p = prefs.ExitNodeID ? { ...prefs, ExitNodeID: exitNode!.StableID! } : prefs;
        const table = computeRouteTable({ netmap: nm, prefs: p, interfaces: ifaces, tunName: 'tailscale0' });
        const ours = [...table.routes.map((r) => r.prefix), ...table.localRoutes.map((l) => `throw ${l}`)].sort();
        assert.deepEqual(ours, theirs, `${what}: ours vs tailscaled's table 52`);
        return { nm, table };
      };

      // accept-routes: sr's subnet appears; no default route.
      assert.equal((await a1.cli(['set', '--accept-routes'])).code, 0);
      await compare('accept-routes', { ...PREFS, RouteAll: true }, (r) => r.includes('10.20.0.0/24'));

      // exit node, LAN access on: default routes, LAN as throw routes.
      await a1.waitStatus('exit offers itself', (s) => peerByHostName(s, 'exit')?.ExitNodeOption === true, 30_000);
      const setExit = await a1.cli(['set', '--exit-node=exit', '--exit-node-allow-lan-access']);
      assert.equal(setExit.code, 0, setExit.stderr);
      const withLan = await compare('exit node + LAN access', { ...PREFS, RouteAll: true, ExitNodeID: 'x', ExitNodeAllowLANAccess: true }, (r) => r.includes('0.0.0.0/0') && r.some((x) => x.startsWith('throw ')));
      // why agrees with the kernel on a1
      const ask = (dest: string) => why({ table: withLan.table, netmap: withLan.nm, interfaces: ifaces, tunName: 'tailscale0' }, dest);
      const get = async (dest: string) => (await lab.exec('a1', ['ip', 'route', 'get', dest])).stdout;
      assert.equal(ask('203.0.113.80').verdict, 'exit-node');
      assert.match(await get('203.0.113.80'), /dev tailscale0 table 52/);
      assert.equal(ask('10.20.0.10').verdict, 'subnet-router');
      assert.equal(ask('10.20.0.10').node?.name, 'sr');
      assert.match(await get('10.20.0.10'), /dev tailscale0 table 52/);
      const lanIP = lab.host('a1').router!.lanPrefix + '.1';
      assert.equal(ask(lanIP).verdict, 'local-lan');
      assert.doesNotMatch(await get(lanIP), /tailscale0/);

      // exit node, LAN access off: the LAN goes to the exit node too.
      assert.equal((await a1.cli(['set', '--exit-node-allow-lan-access=false'])).code, 0);
      const noLan = await compare('exit node, no LAN access', { ...PREFS, RouteAll: true, ExitNodeID: 'x' }, (r) => r.includes('0.0.0.0/0') && !r.some((x) => x.startsWith('throw 10.')));
      assert.equal(why({ table: noLan.table, netmap: noLan.nm, interfaces: ifaces, tunName: 'tailscale0' }, lanIP).verdict, 'exit-node');
      assert.match(await get(lanIP), /dev tailscale0 table 52/);

      // cleared: back to accept-routes only.
      assert.equal((await a1.cli(['set', '--exit-node='])).code, 0);
      await compare('exit node cleared', { ...PREFS, RouteAll: true }, (r) => !r.includes('0.0.0.0/0'));
    },
  );
});
