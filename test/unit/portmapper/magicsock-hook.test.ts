// What control and peers get from the port mapper through magicsock: the mapped address first in
// our endpoints with EndpointType 3 (Portmapped), re-announced when it appears or goes away, the
// netcheck report's UPnP/PMP/PCP, and the port mapper's counters in the metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MagicConn, type PortMapperPort } from '../../../main/engine/magicsock/magic-conn.js';
import { determineEndpoints, EndpointType } from '../../../main/engine/magicsock/local-endpoints.js';
import { portMapperDisabledByEnv } from '../../../main/engine/magicsock/data-path.js';
import { emptyReport, toTailscaleJSON } from '../../../main/engine/netcheck/report.js';
import { PrivateKey } from '../../../main/engine/keys/keys.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { SeededRandom } from '../../doubles/seeded-random.js';
import { RecordingLogger } from '../engine/derp/helpers.js';
import { CountingDataPlane, FakeDerp } from '../engine/magicsock/helpers.js';

test('determineEndpoints: the mapped address goes first as Portmapped, and is not repeated as STUN', () => {
  const r = emptyReport();
  r.globalV4 = { ip: '11.0.0.2', port: 40000 };
  r.globalV4Counters.set('11.0.0.2:40000', 2);
  const eps = determineEndpoints(r, ['10.9.0.10'], 41641, { ip: '11.0.0.2', port: 40000 });
  assert.deepEqual(eps.map((e) => [`${e.addr.ip}:${e.addr.port}`, e.type]), [
    ['11.0.0.2:40000', EndpointType.Portmapped],
    ['10.9.0.10:41641', EndpointType.Local],
  ]);
  assert.equal(EndpointType.Portmapped, 3);
});

class FakePortMapper implements PortMapperPort {
  mapped: { external: { ip: string; port: number }; type: string } | undefined;
  localPort = 0;
  probes = 0;
  private cb: (() => void) | undefined;
  readonly counters = { snapshot: () => ({ 'portmap_map-ok-pmp': 1 }) };
  setLocalPort(p: number): void { this.localPort = p; }
  currentOrStart() { return this.mapped; }
  onChange(cb: () => void): () => void { this.cb = cb; return () => { this.cb = undefined; }; }
  async probe() { this.probes++; return { upnp: true, pmp: true, pcp: false }; }
  fire(): void { this.cb?.(); }
}

const pick = (ni: { HavePortMap?: boolean; UPnP?: boolean | null; PMP?: boolean | null; PCP?: boolean | null }) =>
  ({ HavePortMap: ni.HavePortMap, UPnP: ni.UPnP, PMP: ni.PMP, PCP: ni.PCP });

test('MagicConn: a new mapping is announced first in our endpoints; losing it re-announces without it', async () => {
  const clock = new FakeClock();
  const random = new SeededRandom(5);
  const dp = new CountingDataPlane(41641, 'mt0');
  const pm = new FakePortMapper();
  const conn = new MagicConn({
    dataPlane: dp, derp: new FakeDerp(), nodeKey: PrivateKey.generate('node', random).public, discoKey: PrivateKey.generate('disco', random),
    clock, random, logger: new RecordingLogger(), hrNow: () => clock.now(), localIps: () => ['10.9.0.10'], portMapper: pm,
  });
  assert.equal(pm.localPort, 41641, 'the port mapper maps our WireGuard port');
  const announced: string[][] = [];
  conn.onEndpointsChanged((eps) => announced.push(eps.map((e) => `${e.addr.ip}:${e.addr.port}/${e.type}`)));
  conn.setDerpMap({ Regions: { '900': { RegionID: 900, RegionCode: 'lab1', RegionName: 'Lab 1', Nodes: [] } } });
  await clock.advance(100);
  assert.deepEqual(announced, [['10.9.0.10:41641/1']]);

  pm.mapped = { external: { ip: '11.0.0.2', port: 40000 }, type: 'pmp' };
  pm.fire();
  await clock.advance(100);
  assert.deepEqual(announced.at(-1), ['11.0.0.2:40000/3', '10.9.0.10:41641/1']);
  // netcheck carries what the port mapper's probe saw.
  const rep = conn.lastReport!;
  assert.deepEqual([rep.upnp, rep.pmp, rep.pcp], [true, true, false]);
  const js = toTailscaleJSON(rep);
  assert.deepEqual([js.UPnP, js.PMP, js.PCP], [true, true, false]);
  assert.ok(pm.probes >= 1);
  assert.equal(conn.metrics()['portmap_map-ok-pmp'], 1);
  // …and control hears it in Hostinfo.NetInfo (tailcfg HavePortMap, UPnP/PMP/PCP).
  assert.deepEqual(pick(conn.netInfo()), { HavePortMap: true, UPnP: true, PMP: true, PCP: false });

  pm.mapped = undefined;
  pm.fire();
  await clock.advance(100);
  assert.deepEqual(announced.at(-1), ['10.9.0.10:41641/1']);
  assert.equal(announced.length, 3);
  assert.equal(conn.netInfo().HavePortMap, false);
  conn.close();
});

test('no port mapper: netcheck says "not checked" (null), as tailscale without one', () => {
  const js = toTailscaleJSON(emptyReport());
  assert.deepEqual([js.UPnP, js.PMP, js.PCP], [null, null, null]);
});

test('TS_DISABLE_PORTMAPPER turns the default port mapper off (tailscale envknob truthy values)', () => {
  for (const v of ['1', 'true', 'TRUE', 't']) assert.equal(portMapperDisabledByEnv({ TS_DISABLE_PORTMAPPER: v }), true, v);
  for (const v of [undefined, '', '0', 'false', 'no']) assert.equal(portMapperDisabledByEnv({ TS_DISABLE_PORTMAPPER: v }), false, String(v));
});
