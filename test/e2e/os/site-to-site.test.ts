// Site to site (tailscale's "site-to-site networking" guide): two LANs joined by subnet routers, one
// a Meshtray node (os-agent.ts) and one real tailscaled, both with --snat-subnet-routes=false and
// accept-routes, routes approved in Headscale, a policy that lets the two LANs talk. Hosts on each
// LAN reach each other, and each side sees the other's own LAN address (no SNAT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import { Agent } from './agent-driver.js';
import { approveSiteRoutes, assertForwardsWithoutSnat, assertSitesTalk, SITE_TO_SITE_POLICY, siteToSiteHosts, startEchoServers } from '../support/os-scenarios.js';

test('site to site: Meshtray and tailscaled subnet routers, source addresses preserved', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    {
      derpRegions: 1,
      hosts: siteToSiteHosts('none'),
    },
    async (lab) => {
      const hs = lab.headscale;
      await hs.setPolicy(SITE_TO_SITE_POLICY);
      const agent = Agent.start(lab, 'm1', await lab.authKey());
      t.after(() => agent.stop());
      await agent.wait((e) => e.event === 'ready', 90_000, 'agent ready');
      // Echo servers on both LANs: they answer with the caller's address.
      startEchoServers(t, lab, ['lana', 'lanb']);
      await agent.call({ cmd: 'set', prefs: { AdvertiseRoutes: ['10.30.0.0/24'], NoSNAT: true, RouteAll: true } }, 'set');
      await approveSiteRoutes(hs);

      const lanb = lab.host('lanb').ip;
      let lastSet: unknown;
      await assertSitesTalk(lab, {
        eachTry: async () => (lastSet = await agent.call({ cmd: 'set', prefs: {} }, 'set')), // re-apply with the latest netmap
        diagnose: async () => {
          const d = async (host: string, argv: string[]) => `${host}$ ${argv.join(' ')}\n${(await lab.exec(host, argv)).stdout}`;
          return [
            JSON.stringify(lastSet),
            await d('m1', ['ip', 'route', 'show', 'table', '52']),
            await d('m1', ['ip', 'route', 'get', lanb]),
            await d('m1', ['iptables', '-nvxL']),
            await d('sr', ['ip', 'route', 'show', 'table', '52']),
            await d('sr', ['iptables', '-nvxL']),
            (await lab.peer('sr').cli(['status'])).stdout,
            JSON.stringify(await hs.listNodes()),
          ].join('\n');
        },
      });
      const w = (await agent.call({ cmd: 'why', dest: lanb }, 'why'))['answer'] as { verdict: string; node?: { name: string } };
      assert.deepEqual([w.verdict, w.node?.name], ['subnet-router', 'sr']);
      await assertForwardsWithoutSnat(lab);
    },
  );
});
