// LocalBackend.dnsStatus: what `meshtray dns status` is built from. A netmap with MagicDNS, a
// search domain, a split-DNS route and an extra record, through the real OS integration (route
// table, DNS plan) onto a fake router and an in-memory OS resolver: the answer shows the tailnet's
// settings as control sent them, what went into the OS resolver (quad-100 + search domain with
// --accept-dns, nothing without), where quad-100 forwards each suffix, and the OS's own resolver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DNSStatusSchema } from '../../../../common/contract/api.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { LocalBackend, type LocalBackendOptions } from '../../../../main/engine/backend/local-backend.js';
import type { DataPathPort } from '../../../../main/engine/backend/data-path-port.js';
import type { OSDNSConfig } from '../../../../main/engine/dns/dns-config.js';
import type { OSResolverConfigurator } from '../../../../main/engine/dns/resolv-conf.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import type { Router } from '../../../../main/engine/router/router.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl } from '../../../doubles/fake-control.js';
import { fullMap, node } from '../../../doubles/map-messages.js';

class FakePath implements DataPathPort {
  update(): void {}
  endpointFields() { return { Endpoints: [], EndpointTypes: [] }; }
  netInfo() { return { PreferredDERP: 901, WorkingUDP: true, MappingVariesByDestIP: false }; }
  onEndpointsChanged() { return () => {}; }
  async ping(target: string) { return { IP: target }; }
  peerExtras() { return {}; }
  selfExtras() { return {}; }
  metrics() { return {}; }
  async netcheck() { return undefined; }
  async close() {}
}

const router: Router = { async set() {}, async restore() {}, async repair() {} };

/** The OS resolver in memory: the original config, what we installed (undefined = the original). */
class MemResolver implements OSResolverConfigurator {
  installed: OSDNSConfig | undefined;
  failBase = false;
  constructor(readonly original: OSDNSConfig) {}
  async baseConfig() {
    if (this.failBase) throw new Error('helper not reachable');
    return this.original;
  }
  async set(cfg: OSDNSConfig | undefined) { this.installed = cfg && cfg.nameservers.length ? cfg : undefined; }
  async restore() { const had = this.installed !== undefined; this.installed = undefined; return had ? 'restored' as const : 'nothing' as const; }
  async repair() { return this.restore(); }
}

const DNS = {
  Proxied: true,
  Domains: ['tail.example'],
  // Headscale also sends the MagicDNS suffix and the reverse zones as routes without resolvers.
  Routes: { 'corp.example': [{ Addr: '10.20.0.53' }], 'lab.example': [{ Addr: '10.20.0.54:5353' }], 'tail.example': [], '64.100.in-addr.arpa': null },
  FallbackResolvers: [{ Addr: '9.9.9.9' }],
  ExtraRecords: [{ Name: 'svc.tail.example', Type: 'A', Value: '100.64.0.50' }],
};

async function setup(o: { withOS?: boolean; corpDNS?: boolean; dns?: Record<string, unknown> } = {}) {
  const control = new FakeControl();
  const clock = new FakeClock();
  // The OS's own resolv.conf had quad-100 left in it (a symlinked backup can): never shown as the OS's own.
  const osResolver = new MemResolver({ nameservers: ['192.168.1.1', '100.100.100.100'], searchDomains: ['home.arpa'] });
  let c = 1;
  const opts: LocalBackendOptions = {
    store: new MemoryStateStore(), clock, logger: memoryLogger('debug').logger, controlFactory: control.factory,
    random: { bytes: (n) => Uint8Array.from({ length: n }, () => (c++ * 37) & 0xff), float: () => 0.5 },
    hostFacts: { hostname: 'box', osVersion: '6.1', version: '0.1.0' }, version: '0.1.0',
    dataPath: () => new FakePath(),
    ...(o.withOS === false ? {} : {
      os: {
        router, osDNS: osResolver, upstream: { query: () => Promise.reject(new Error('none')) }, tunName: 'meshtray0', quad100: 'intercept' as const,
        interfaces: () => [{ name: 'eth0', addresses: ['192.168.1.20/24'] }, { name: 'meshtray0', addresses: ['100.64.0.1/32'] }],
      },
    }),
  };
  const b = new LocalBackend(opts);
  await b.init();
  const before = o.withOS === false ? undefined : await b.dnsStatus();
  await b.start({ AuthKey: 'hskey-auth-x-y', Prefs: { ControlURL: 'http://hs.example:8080', CorpDNS: o.corpDNS ?? true } });
  await flush();
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send({ ...fullMap(node({ id: 1, name: 'self', key }), [node({ id: 2, name: 'peer2' })]), DNSConfig: o.dns ?? DNS });
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      await clock.advance(50);
      await flush();
    }
  };
  await settle();
  return { b, before, osResolver, settle };
}

test('with --accept-dns: the tailnet suffix, split routes, quad-100 in the OS resolver, the OS resolver behind it', async () => {
  const { b, before, osResolver } = await setup();
  assert.deepEqual(before, { TailscaleDNS: true }, 'before any netmap: only the pref, no tailnet, nothing applied');
  const s = await b.dnsStatus();
  assert.ok(DNSStatusSchema.safeParse(s).success);
  assert.equal(s.TailscaleDNS, true);
  assert.deepEqual(s.CurrentTailnet, { MagicDNSEnabled: true, MagicDNSSuffix: 'tail.example', SelfDNSName: 'self.tail.example.' });
  // As control sent it (tailscale prints the netmap's DNSConfig here), routes without resolvers left out as tailscale does.
  assert.deepEqual(s.SplitDNSRoutes, { 'corp.example': [{ Addr: '10.20.0.53' }], 'lab.example': [{ Addr: '10.20.0.54:5353' }] });
  assert.equal(s.Resolvers, undefined);
  assert.deepEqual(s.FallbackResolvers, [{ Addr: '9.9.9.9' }]);
  assert.deepEqual(s.SearchDomains, ['tail.example']);
  assert.deepEqual(s.ExtraRecords, [{ Name: 'svc.tail.example', Type: 'A', Value: '100.64.0.50' }]);
  // The OS's own config, quad-100 dropped (direct.go GetBaseConfig).
  assert.deepEqual(s.SystemDNS, { Nameservers: ['192.168.1.1'], SearchDomains: ['home.arpa'], MatchDomains: [] });
  assert.equal(s.SystemDNSError, undefined);
  // What the engine did: the same thing it wrote into the OS resolver.
  const m = s.Meshtray!;
  assert.equal(m.OSResolverInstalled, true);
  assert.equal(m.OSResolverMode, 'direct');
  assert.deepEqual(osResolver.installed, { nameservers: ['100.100.100.100', 'fd7a:115c:a1e0::53'], searchDomains: ['tail.example', 'home.arpa'] });
  assert.deepEqual(m.OSResolver, { Nameservers: ['100.100.100.100', 'fd7a:115c:a1e0::53'], SearchDomains: ['tail.example', 'home.arpa'], MatchDomains: [] });
  assert.deepEqual(m.Routes, { 'corp.example.': [{ Addr: '10.20.0.53' }], 'lab.example.': [{ Addr: '10.20.0.54:5353' }], '.': [{ Addr: '192.168.1.1' }] });
  assert.ok(m.LocalDomains.includes('tail.example.'));
  assert.ok(m.LocalDomains.includes('64.100.in-addr.arpa.'));
  assert.equal(m.OSResolverReason, undefined);
});

test('set --accept-dns=false: "disabled", the OS resolver given back, with the reason; the tailnet part stays', async () => {
  const { b, osResolver, settle } = await setup();
  await b.editPrefs({ CorpDNS: false });
  await settle();
  const s = await b.dnsStatus();
  assert.equal(s.TailscaleDNS, false);
  assert.equal(osResolver.installed, undefined, 'restored');
  assert.equal(s.Meshtray?.OSResolverInstalled, false);
  assert.equal(s.Meshtray?.OSResolver, undefined);
  assert.match(s.Meshtray?.OSResolverReason ?? '', /--accept-dns is off/);
  assert.deepEqual(s.Meshtray?.Routes, {}, 'quad-100 forwards nothing for the OS');
  assert.equal(s.CurrentTailnet?.MagicDNSSuffix, 'tail.example');
  assert.deepEqual(Object.keys(s.SplitDNSRoutes ?? {}), ['corp.example', 'lab.example']);
});

test('a tailnet without MagicDNS or routes: quad-100 not put in the OS, said why; an unreadable OS config is an error line, not a failure', async () => {
  const { b, osResolver } = await setup({ dns: { Domains: [] } });
  osResolver.failBase = true;
  const s = await b.dnsStatus();
  assert.equal(s.CurrentTailnet?.MagicDNSEnabled, false);
  assert.equal(s.SplitDNSRoutes, undefined);
  assert.equal(s.Meshtray?.OSResolverInstalled, false);
  assert.match(s.Meshtray?.OSResolverReason ?? '', /no DNS settings that need it/);
  assert.equal(s.SystemDNS, undefined);
  assert.equal(s.SystemDNSError, 'helper not reachable');
});

test('down: nothing applied any more; an engine without OS integration answers ERR_NOT_FOUND', async () => {
  const { b } = await setup();
  await b.down();
  const s = await b.dnsStatus();
  assert.equal(s.Meshtray, undefined, 'down restored everything: nothing to report as configured');
  const { b: noOS } = await setup({ withOS: false });
  await assert.rejects(noOS.dnsStatus(), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND' && /does not manage DNS/.test(e.message));
});
