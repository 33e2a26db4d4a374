// The port mapper against a scripted gateway on a fake clock: what it asks the router, which
// mapping it ends up with, renewal before expiry, losing it, deleting it, and bad replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortMapper, type PortMapping } from '../../../main/engine/portmapper/client.js';
import { memoryLogger } from '../../../main/engine/log/logger.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { SeededRandom } from '../../doubles/seeded-random.js';
import { FakeGateway, GW, SELF, WAN } from './fake-gateway.js';

function setup(configure?: (g: FakeGateway) => void) {
  const clock = new FakeClock();
  const gw = new FakeGateway();
  configure?.(gw);
  const { logger } = memoryLogger('debug');
  const pm = new PortMapper({ clock, random: new SeededRandom(3), logger, io: gw });
  const seen: (PortMapping | undefined)[] = [];
  pm.onChange((m) => seen.push(m));
  pm.setLocalPort(41641);
  return { clock, gw, pm, seen };
}

const ext = (m: PortMapping | undefined) => (m ? `${m.type} ${m.external.ip}:${m.external.port}` : 'none');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('probe: NAT-PMP public address, PCP ANNOUNCE and SSDP (unicast + multicast) from one socket; all three answer', async () => {
  const s = setup();
  const p = s.pm.probe();
  await s.clock.advance(300);
  assert.deepEqual(await p, { upnp: true, pmp: true, pcp: true });
  const to = s.gw.sent.map((x) => `${x.to.ip}:${x.to.port}`);
  assert.deepEqual(to, [`${GW}:5351`, `${GW}:5351`, `${GW}:1900`, '239.255.255.250:1900', '239.255.255.250:1900']);
  assert.equal(hex(s.gw.sent[0]!.pkt), '0000');
  assert.equal(hex(s.gw.sent[1]!.pkt.subarray(0, 2)), '0200');
  assert.equal(s.gw.openSockets, 0, 'the probe socket is closed');
  // Within 10 minutes the services are trusted: no new packets.
  const n = s.gw.sent.length;
  const again = s.pm.probe();
  await s.clock.advance(300);
  assert.deepEqual(await again, { upnp: true, pmp: true, pcp: true });
  assert.equal(s.gw.sent.length, n);
});

test('probe: nothing answers → all false after 250 ms; no default gateway → nothing sent', async () => {
  const s = setup((g) => { g.pmp = false; g.pcp = false; g.upnp = false; });
  const p = s.pm.probe();
  await s.clock.advance(300);
  assert.deepEqual(await p, { upnp: false, pmp: false, pcp: false });
  const t = setup((g) => { g.gateway = () => undefined; });
  const q = t.pm.probe();
  await t.clock.advance(300);
  assert.deepEqual(await q, { upnp: false, pmp: false, pcp: false });
  assert.equal(t.gw.sent.length, 0);
  assert.equal(t.pm.counters.get('no-gateway'), 1);
});

test('NAT-PMP mapping: created, announced, renewed at half its lifetime for the same port, deleted on close', async () => {
  const s = setup();
  assert.equal(s.pm.currentOrStart(), undefined, 'nothing yet: creation starts in the background');
  await s.clock.advance(1000);
  const m = s.pm.current;
  assert.equal(ext(m), `pmp ${WAN}:40000`);
  assert.deepEqual(m!.internal, { ip: SELF, port: 41641 });
  assert.deepEqual(s.seen.map(ext), [`pmp ${WAN}:40000`]);
  assert.deepEqual([...s.gw.mappings.values()].map((x) => [x.via, x.externalPort, x.internalPort, x.lifetimeS]), [['pmp', 40000, 41641, 7200]]);
  // The first map request asked for any port (0); renewal (at 3600 s) asks for 40000.
  const maps = () => s.gw.sent.filter((x) => x.pkt[0] === 0 && x.pkt[1] === 1).map((x) => hex(x.pkt));
  assert.equal(maps()[0], '00010000a2a9000000001c20');
  const before = maps().length;
  await s.clock.advance(3599_000);
  assert.equal(maps().length, before, 'not renewed before half the lifetime');
  await s.clock.advance(2000);
  assert.equal(maps()[before], '00010000a2a99c4000001c20');
  assert.equal(s.pm.counters.get('renew-pmp'), 1);
  assert.equal(s.seen.length, 1, 'same address after renewal: no re-announce');
  assert.ok(s.pm.current!.goodUntil > s.clock.now() + 7000_000);
  // close: a delete (lifetime 0, suggested port 0) reaches the gateway before close resolves.
  const closing = s.pm.close();
  await s.clock.advance(300);
  await closing;
  assert.equal(maps().at(-1), '00010000a2a9000000000000');
  assert.equal(s.gw.mappings.size, 0);
  assert.equal(s.gw.openSockets, 0);
});

test('a slow router (answers only a later retransmission) still gets its mapping made, not a minute later', async () => {
  const s = setup();
  s.gw.pmpSlowMaps = 2; // the first two sends (0 ms, 250 ms) go unanswered, as miniupnpd under load did
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  assert.equal(ext(s.pm.current), `pmp ${WAN}:40000`);
  const maps = s.gw.sent.filter((x) => x.pkt[0] === 0 && x.pkt[1] === 1 && x.pkt[11] !== 0);
  assert.equal(maps.length, 3, 'retransmitted at 250 ms and 750 ms (RFC 6886 doubling)');
});

test('a mapping that cannot be renewed is kept until it runs out, then dropped and announced gone', async () => {
  const s = setup();
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  assert.equal(ext(s.pm.current), `pmp ${WAN}:40000`);
  s.gw.pmp = false; s.gw.pcp = false; s.gw.upnp = false; // router's UPnP switched off
  s.gw.mappings.clear();
  await s.clock.advance(3601_000);
  assert.equal(ext(s.pm.current), `pmp ${WAN}:40000`, 'still good until its lifetime ends');
  await s.clock.advance(3600_000);
  assert.equal(s.pm.current, undefined);
  assert.deepEqual(s.seen.map(ext), [`pmp ${WAN}:40000`, 'none']);
  assert.equal(s.pm.counters.get('expired'), 1);
});

test('gateway epoch going backwards (router rebooted): the mapping is made again', async () => {
  const s = setup();
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  s.gw.mappings.clear(); // the reboot lost it
  s.gw.epoch = 5;
  await s.clock.advance(3600_000); // the renewal's probe answer carries the low epoch
  assert.equal(s.pm.counters.get('epoch-reset'), 1);
  await s.clock.advance(2000);
  // Lost, then a fresh mapping (this router hands out the next port), each announced.
  assert.deepEqual(s.seen.map(ext), [`pmp ${WAN}:40000`, 'none', `pmp ${WAN}:40001`]);
  assert.deepEqual([...s.gw.mappings.values()].map((x) => [x.externalPort, x.internalPort]), [[40001, 41641]], 'the router has our mapping again');
});

test('PCP only: MAP with a nonce; renewal and delete reuse it (the gateway refuses a foreign nonce)', async () => {
  const s = setup((g) => { g.pmp = false; g.upnp = false; });
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  assert.equal(ext(s.pm.current), `pcp ${WAN}:40000`);
  const nonce = [...s.gw.mappings.values()][0]!.nonce;
  await s.clock.advance(3601_000);
  assert.equal(s.pm.counters.get('renew-pcp'), 1);
  assert.equal([...s.gw.mappings.values()][0]!.nonce, nonce);
  const closing = s.pm.close();
  await s.clock.advance(300);
  await closing;
  assert.equal(s.gw.mappings.size, 0, 'deleted with the same nonce');
});

test('UPnP only: description, AddAnyPortMapping on WANIPConnection:2, external IP; DeletePortMapping on close', async () => {
  const s = setup((g) => { g.pmp = false; g.pcp = false; });
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  const m = s.pm.current!;
  assert.equal(m.type, 'upnp');
  assert.equal(m.external.ip, WAN);
  assert.ok(m.external.port >= 1024, `port ${m.external.port}`);
  assert.deepEqual([...s.gw.mappings.values()].map((x) => [x.via, x.externalPort, x.internalPort, x.lifetimeS]), [['upnp', m.external.port, 41641, 7200]]);
  assert.deepEqual(s.gw.httpLog.map((r) => `${r.method} ${r.url} ${r.headers?.SOAPAction ?? ''}`), [
    `GET http://${GW}:5000/rootDesc.xml `,
    `POST http://${GW}:5000/ctl/IPConn "urn:schemas-upnp-org:service:WANIPConnection:2#AddAnyPortMapping"`,
    `POST http://${GW}:5000/ctl/IPConn "urn:schemas-upnp-org:service:WANIPConnection:2#GetExternalIPAddress"`,
  ]);
  assert.match(s.gw.httpLog[1]!.body!, /<NewInternalClient>10\.9\.0\.10<\/NewInternalClient>/);
  await s.pm.close();
  assert.match(s.gw.httpLog.at(-1)!.headers!.SOAPAction!, /#DeletePortMapping"$/);
  assert.equal(s.gw.mappings.size, 0);
});

test('NAT-PMP refusing the mapping falls through to PCP, then UPnP', async () => {
  const s = setup((g) => { g.pmpMapResult = 2; g.pcp = false; });
  s.pm.currentOrStart();
  await s.clock.advance(2000);
  assert.equal(s.pm.current?.type, 'upnp');
  assert.equal(s.pm.counters.get('pmp-result-2'), 1);
});

test('malformed and foreign replies are dropped and counted, never thrown', async () => {
  const s = setup((g) => {
    g.upnp = false;
    g.garbage = Uint8Array.of(0, 0x80, 0, 0); // short PMP
    g.noise = [
      { from: { ip: '10.9.0.66', port: 5351 }, pkt: new Uint8Array(12) }, // not the gateway
      { from: { ip: GW, port: 1900 }, pkt: new TextEncoder().encode('HTTP/1.1 200 OK\r\nbroken\r\n\r\n') },
    ];
  });
  s.pm.currentOrStart();
  await s.clock.advance(2000);
  assert.equal(s.pm.current, undefined);
  const c = s.pm.counters.snapshot();
  assert.ok((c['portmap_drop-pmp-short'] ?? 0) >= 1, JSON.stringify(c));
  assert.ok((c['portmap_drop-ssdp-bad-header'] ?? 0) >= 1, JSON.stringify(c));
  assert.deepEqual(s.seen, []);
  // A PCP-looking reply of the wrong size.
  const t = setup((g) => { g.upnp = false; g.garbage = Uint8Array.of(2, 0x80, 0, 0, 0); });
  const p = t.pm.probe();
  await t.clock.advance(300);
  assert.deepEqual(await p, { upnp: false, pmp: false, pcp: false });
  assert.ok(t.pm.counters.get('drop-pcp-short') >= 1);
});

test('a new local port deletes the old mapping and maps the new one', async () => {
  const s = setup();
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  s.pm.setLocalPort(41642);
  await s.clock.advance(300);
  assert.deepEqual(s.seen.map(ext), [`pmp ${WAN}:40000`, 'none']);
  assert.equal(s.gw.mappings.size, 0, 'old mapping deleted');
  s.pm.currentOrStart();
  await s.clock.advance(1000);
  assert.equal(s.pm.current?.internal.port, 41642);
  assert.deepEqual([...s.gw.mappings.values()].map((x) => x.internalPort), [41642]);
});
