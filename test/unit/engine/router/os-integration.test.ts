import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { defaultPrefs, type Prefs } from '../../../../common/schemas/prefs.js';
import { DirectResolvConf } from '../../../../main/engine/dns/resolv-conf.js';
import { MagicDNSResolver } from '../../../../main/engine/dns/resolver.js';
import { OSIntegration } from '../../../../main/engine/router/os-integration.js';
import type { Router, RouterConfig } from '../../../../main/engine/router/router.js';
import { MemResolvFS } from '../../../doubles/mem-resolv-fs.js';
import { FakeClock } from '../netmap/helpers.js';
import { EXIT_ID, IFACES, tailnet } from '../routes/fixtures.js';

class RecordingRouter implements Router {
  sets: RouterConfig[] = [];
  restores = 0;
  repairs = 0;
  failNext = false;
  async set(cfg: RouterConfig) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('iptables exploded');
    }
    this.sets.push(cfg);
  }
  async restore() {
    this.restores++;
  }
  async repair() {
    this.repairs++;
  }
}

function setup() {
  const router = new RecordingRouter();
  const fs = new MemResolvFS();
  fs.setText('/etc/resolv.conf', 'nameserver 192.0.2.53\n');
  const resolver = new MagicDNSResolver({ upstream: { query: () => Promise.reject(new Error('none')) }, forwardTimeoutMs: 50 });
  const osi = new OSIntegration({ router, resolver, osDNS: new DirectResolvConf({ fs }), tunName: 'meshtray0', clock: new FakeClock(), interfaces: () => IFACES });
  return { router, fs, resolver, osi };
}
const prefs = (over: Partial<Prefs> = {}): Prefs => ({ ...defaultPrefs(), WantRunning: true, ...over });
const resolvConf = (fs: MemResolvFS) => fs.text('/etc/resolv.conf');

test('apply: router gets the table + kernel ACL, quad-100 learns the names, resolv.conf points at it', async () => {
  const { router, fs, resolver, osi } = setup();
  await osi.start();
  assert.equal(router.repairs, 1);
  const nm = tailnet();
  const applied = await osi.apply(nm, prefs({ ExitNodeID: String(EXIT_ID), ExitNodeAllowLANAccess: true }));
  assert.ok(applied);
  const cfg = router.sets.at(-1)!;
  assert.ok(cfg.routes.includes('0.0.0.0/0'));
  assert.deepEqual(cfg.localRoutes, ['127.0.0.0/8', '192.168.1.0/24', '2001:db8:1::/64', 'fe80::/64']);
  assert.ok(cfg.acl && cfg.acl.v4.some((c) => c.chain === 'mt-acl'));
  assert.match(resolvConf(fs), /nameserver 100\.100\.100\.100/);
  const ans = await resolver.handle(dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'laptop.tail.example' }] }));
  assert.equal(((dnsPacket.decode(Buffer.from(ans!)).answers![0]) as { data: string }).data, '100.64.0.2');
  assert.equal(osi.why('203.0.113.80')?.verdict, 'exit-node');
  assert.equal(osi.why('192.168.1.9')?.verdict, 'local-lan');
});

test('accept-dns off restores resolv.conf; down restores router and DNS and forgets names', async () => {
  const { router, fs, resolver, osi } = setup();
  const nm = tailnet();
  await osi.apply(nm, prefs());
  assert.equal(osi.osResolverInstalled, true);
  await osi.apply(nm, prefs({ CorpDNS: false }));
  assert.equal(resolvConf(fs), 'nameserver 192.0.2.53\n');
  assert.equal(osi.osResolverInstalled, false);
  await osi.apply(nm, prefs());
  await osi.down();
  assert.equal(router.restores, 1);
  assert.equal(resolvConf(fs), 'nameserver 192.0.2.53\n');
  const ans = await resolver.handle(dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'laptop.tail.example' }] }));
  assert.equal((dnsPacket.decode(Buffer.from(ans!)) as { rcode?: string }).rcode, 'SERVFAIL');
  assert.equal(osi.why('1.2.3.4'), undefined);
});

test('bursts are coalesced; a failing router apply rejects and the next one still runs', async () => {
  const { router, osi } = setup();
  const nm = tailnet();
  const all = await Promise.all([osi.apply(nm, prefs()), osi.apply(nm, prefs({ RouteAll: true })), osi.apply(nm, prefs({ RouteAll: true, ExitNodeID: String(EXIT_ID) }))]);
  assert.ok(router.sets.length <= 2, `applied ${router.sets.length} times`);
  assert.ok(router.sets.at(-1)!.routes.includes('0.0.0.0/0'), 'the last prefs win');
  assert.ok(all.every((a) => a !== undefined));
  router.failNext = true;
  await assert.rejects(osi.apply(nm, prefs()), /iptables exploded/);
  await osi.apply(nm, prefs());
  assert.ok(!router.sets.at(-1)!.routes.includes('0.0.0.0/0'));
});

test('shields up: kernel ACL without rules; JS filter likewise', async () => {
  const { router, osi } = setup();
  const nm = tailnet();
  await osi.apply(nm, prefs({ ShieldsUp: true }));
  const cfg = router.sets.at(-1)!;
  assert.deepEqual(cfg.acl!.v4.find((c) => c.chain === 'mt-acl-rules')!.rules, []);
  const f = osi.packetFilter(nm, prefs({ ShieldsUp: true }));
  const syn = new Uint8Array([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 100, 64, 0, 2, 100, 64, 0, 1, 0x9c, 0x40, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0]);
  const v = f.inbound(syn);
  assert.equal(!v.accept && v.reason, 'shields-up');
});
