// Site to site through the product (tailscale's "site-to-site networking" guide): two LANs joined by
// subnet routers, a REAL meshtrayd configured with `meshtray set --advertise-routes=10.30.0.0/24
// --snat-subnet-routes=false --accept-routes` and a REAL tailscaled with the same flags, routes
// approved in Headscale. Hosts on each LAN reach each other with their own source addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import { approveSiteRoutes, assertForwardsWithoutSnat, assertSitesTalk, SITE_TO_SITE_POLICY, siteToSiteHosts, startEchoServers } from '../support/os-scenarios.js';

test('site to site: meshtrayd and tailscaled subnet routers with --snat-subnet-routes=false', { timeout: 300_000 }, async (t) => {
  await withLab(
    t,
    { name: 'os-s2s', derpRegions: 1, hosts: siteToSiteHosts('meshtrayd') },
    async (lab) => {
      const hs = lab.headscale;
      const mt = lab.peer('m1');
      await hs.setPolicy(SITE_TO_SITE_POLICY);
      startEchoServers(t, lab, ['lana', 'lanb']);
      const set = await mt.cli(['set', '--advertise-routes=10.30.0.0/24', '--snat-subnet-routes=false', '--accept-routes']);
      assert.equal(set.code, 0, set.stderr);
      const prefs = JSON.parse((await mt.cli(['debug', 'prefs'])).stdout) as { AdvertiseRoutes: string[]; NoSNAT: boolean; RouteAll: boolean };
      assert.deepEqual([prefs.AdvertiseRoutes, prefs.NoSNAT, prefs.RouteAll], [['10.30.0.0/24'], true, true]);
      await approveSiteRoutes(hs);

      await assertSitesTalk(lab);
      const w = JSON.parse((await mt.cli(['why', '--json', lab.host('lanb').ip])).stdout) as { verdict: string; node?: { name: string } };
      assert.deepEqual([w.verdict, w.node?.name], ['subnet-router', 'sr']);
      await assertForwardsWithoutSnat(lab);
    },
  );
});
