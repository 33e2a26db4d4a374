// `meshtray ping` / `meshtray netcheck` output and exit codes, as tailscale's CLI prints them
// (cmd/tailscale/cli/ping.go, netcheck.go at v1.98.10), against a scripted LocalAPI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cmdPing, formatNetcheck, goDuration } from '../../../main/cli/ping-netcheck.js';
import type { LocalClient } from '../../../main/client/localapi-client.js';
import type { ApiResponse } from '../../../common/contract/api.js';
import { emptyStatus } from '../../doubles/fake-localapi-backend.js';

function fakeClient(answers: ApiResponse<'ping'>[]) {
  const reqs: unknown[] = [];
  const st = emptyStatus({
    BackendState: 'Running', TailscaleIPs: ['100.64.0.1'], MagicDNSSuffix: 'tail.example',
    Peer: { k: { ID: '2', PublicKey: 'nodekey:00', HostName: 't1', DNSName: 't1.tail.example.', OS: 'linux', UserID: 1, TailscaleIPs: ['100.64.0.2', 'fd7a:115c:a1e0::2'], CurAddr: '', Relay: 'lab1', RxBytes: 0, TxBytes: 0, Created: '', LastHandshake: '', Online: true, ExitNode: false, ExitNodeOption: false, Active: false, InNetworkMap: true, InMagicSock: true, InEngine: true } },
  });
  const c = {
    status: async () => st,
    ping: async (r: unknown) => { reqs.push(r); return answers.shift() ?? { IP: '100.64.0.2', Err: 'timeout' }; },
  };
  return { client: c as unknown as LocalClient, reqs };
}

function io() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
}

const base = { IP: '100.64.0.2', NodeIP: '100.64.0.2', NodeName: 't1' };

test('ping prints DERP then the direct address and stops there (until-direct)', async () => {
  const f = fakeClient([
    { ...base, LatencySeconds: 0.0123, DERPRegionID: 900, DERPRegionCode: 'lab1' },
    { ...base, LatencySeconds: 0.0008, Endpoint: '198.51.100.101:41641' },
  ]);
  const h = io();
  const code = await cmdPing(f.client, 't1', { c: '10', timeoutMs: 5000, untilDirect: true }, h.io, async () => {});
  assert.equal(code, 0);
  assert.equal(h.o.out, 'pong from t1 (100.64.0.2) via DERP(lab1) in 12ms\npong from t1 (100.64.0.2) via 198.51.100.101:41641 in 1ms\n');
  assert.deepEqual(f.reqs[0], { Target: '100.64.0.2', Type: 'disco', TimeoutMs: 5000 }, 'the name was resolved to the IP from status');
});

test('ping: never direct → "direct connection not established"; timeouts; no reply; local IP', async () => {
  let h = io();
  let f = fakeClient([{ ...base, LatencySeconds: 0.002, DERPRegionID: 900, DERPRegionCode: 'lab1' }, { ...base, LatencySeconds: 0.002, DERPRegionID: 900, DERPRegionCode: 'lab1' }]);
  assert.equal(await cmdPing(f.client, '100.64.0.2', { c: '2', timeoutMs: 5000, untilDirect: true }, h.io, async () => {}), 1);
  assert.equal(h.o.err, 'direct connection not established\n');
  h = io();
  f = fakeClient([]);
  assert.equal(await cmdPing(f.client, '100.64.0.2', { c: '2', timeoutMs: 5000, untilDirect: true }, h.io, async () => {}), 1);
  assert.equal(h.o.out, 'ping "100.64.0.2" timed out\nping "100.64.0.2" timed out\n');
  assert.equal(h.o.err, 'no reply\n');
  h = io();
  assert.equal(await cmdPing(f.client, '100.64.0.1', { c: '2', timeoutMs: 5000, untilDirect: true }, h.io), 0);
  assert.equal(h.o.out, '100.64.0.1 is local Tailscale IP\n');
  h = io();
  assert.equal(await cmdPing(f.client, 'nosuch', { c: '2', timeoutMs: 5000, untilDirect: true }, h.io), 1);
  assert.match(h.o.err, /no such host "nosuch"/);
});

test('Go duration text as tailscale prints latencies', () => {
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(12), '12ms');
  assert.equal(goDuration(1.5), '1.5ms');
  assert.equal(goDuration(0.2), '200µs');
  assert.equal(goDuration(1500), '1.5s');
  assert.equal(goDuration(61_000), '1m1s');
});

test('netcheck report text', () => {
  const txt = formatNetcheck({
    Report: { Now: '2026-11-23T20:00:00Z', UDP: true, IPv4: true, IPv6: false, OSHasIPv6: true, MappingVariesByDestIP: false, PreferredDERP: 900, RegionLatency: { '900': 1_234_000, '901': 5_000_000 }, GlobalV4: '198.51.100.101:41641', GlobalV6: '' },
    Regions: [{ RegionID: 901, RegionCode: 'lab2', RegionName: 'Lab DERP lab2' }, { RegionID: 900, RegionCode: 'lab1', RegionName: 'Lab DERP lab1' }],
  });
  assert.equal(txt, [
    '', 'Report:',
    '\t* Time: 2026-11-23T20:00:00Z',
    '\t* UDP: true',
    '\t* IPv4: yes, 198.51.100.101:41641',
    '\t* IPv6: no, but OS has support',
    '\t* MappingVariesByDestIP: false',
    '\t* PortMapping: not checked',
    '\t* Nearest DERP: Lab DERP lab1',
    '\t* DERP latency:',
    '\t\t- lab1: 1.2ms   (Lab DERP lab1)',
    '\t\t- lab2: 5ms     (Lab DERP lab2)',
  ].join('\n') + '\n');
});

test('netcheck PortMapping line: the services that answered, in tailscale\'s order; none → empty', () => {
  const base = { Now: '2026-11-23T20:00:00Z', UDP: true, IPv4: true, IPv6: false, OSHasIPv6: false, MappingVariesByDestIP: true, PreferredDERP: 0, RegionLatency: {}, GlobalV4: '', GlobalV6: '' };
  const line = (extra: Record<string, boolean | null>) => formatNetcheck({ Report: { ...base, ...extra }, Regions: [] }).split('\n').find((l) => l.includes('PortMapping'));
  assert.equal(line({ UPnP: true, PMP: true, PCP: true }), '\t* PortMapping: UPnP, NAT-PMP, PCP');
  assert.equal(line({ UPnP: false, PMP: true, PCP: false }), '\t* PortMapping: NAT-PMP');
  assert.equal(line({ UPnP: false, PMP: false, PCP: false }), '\t* PortMapping: ');
  assert.equal(line({ UPnP: null, PMP: null, PCP: null }), '\t* PortMapping: not checked');
});
