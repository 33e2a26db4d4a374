import { test } from 'node:test';
import assert from 'node:assert/strict';
import { betterAddr, parseIpPort } from '../../../../main/engine/magicsock/addr.js';
import { determineEndpoints, EndpointType, interfaceAddresses } from '../../../../main/engine/magicsock/local-endpoints.js';
import { emptyReport } from '../../../../main/engine/netcheck/report.js';

const q = (s: string, latencyMs: number) => ({ addr: parseIpPort(s)!, latencyMs });

test('parseIpPort accepts Go netip.AddrPort text and rejects the rest', () => {
  assert.deepEqual(parseIpPort('1.2.3.4:41641'), { ip: '1.2.3.4', port: 41641 });
  assert.deepEqual(parseIpPort('[2001:DB8::1]:5'), { ip: '2001:db8::1', port: 5 });
  assert.deepEqual(parseIpPort('[::ffff:1.2.3.4]:5'), { ip: '1.2.3.4', port: 5 });
  for (const bad of ['1.2.3.4', '1.2.3.4:0', '1.2.3.4:70000', '2001:db8::1:5', '[1.2.3.4]:5', 'host:5', '']) assert.equal(parseIpPort(bad), undefined, bad);
});

test('betterAddr follows tailscale: faster wins, private/IPv6 bonuses, 1 % hysteresis', () => {
  assert.equal(betterAddr(q('1.1.1.1:1', 10), undefined), true);
  assert.equal(betterAddr(undefined, q('1.1.1.1:1', 10)), false);
  assert.equal(betterAddr(q('1.1.1.1:1', 5), q('2.2.2.2:1', 10)), true);
  assert.equal(betterAddr(q('2.2.2.2:1', 10), q('1.1.1.1:1', 5)), false);
  // Same latency: a private address beats a public one.
  assert.equal(betterAddr(q('10.0.0.1:1', 10), q('1.1.1.1:1', 10)), true);
  // A public address must be much faster to beat a private one (+20 points).
  assert.equal(betterAddr(q('1.1.1.1:1', 9), q('10.0.0.1:1', 10)), false);
  assert.equal(betterAddr(q('1.1.1.1:1', 5), q('10.0.0.1:1', 10)), true);
  // Under 1 % faster is not worth a switch.
  assert.equal(betterAddr(q('1.1.1.1:1', 995), q('2.2.2.2:1', 1000)), false);
  // 100.64/10 is not "private".
  assert.equal(betterAddr(q('100.64.0.1:1', 10), q('1.1.1.1:1', 10)), false);
  assert.equal(betterAddr(q('1.1.1.1:1', 10), q('1.1.1.1:1', 1)), false);
});

test('determineEndpoints: STUN first, hard-NAT local-port guess, then interface addresses', () => {
  const r = emptyReport();
  r.globalV4 = { ip: '198.51.100.101', port: 61000 };
  r.globalV4Counters.set('198.51.100.101:61000', 3);
  r.globalV4Counters.set('198.51.100.101:61001', 2);
  r.mappingVariesByDestIP = true;
  const eps = determineEndpoints(r, ['10.1.0.10'], 41641);
  assert.deepEqual(eps.map((e) => [`${e.addr.ip}:${e.addr.port}`, e.type]), [
    ['198.51.100.101:61000', EndpointType.STUN],
    ['198.51.100.101:61001', EndpointType.STUN],
    ['198.51.100.101:41641', EndpointType.STUN4LocalPort],
    ['10.1.0.10:41641', EndpointType.Local],
  ]);
  assert.deepEqual(determineEndpoints(undefined, ['10.1.0.10'], 41641).map((e) => e.type), [EndpointType.Local]);
});

test('interfaceAddresses skips loopback, link-local, Tailscale ranges and our TUN', () => {
  const ifs = {
    lo: [{ address: '127.0.0.1', internal: true, family: 'IPv4' }],
    eth0: [{ address: '10.1.0.10', internal: false, family: 'IPv4' }, { address: 'fe80::1%eth0', internal: false, family: 'IPv6' }, { address: '2001:db8::10', internal: false, family: 'IPv6' }],
    mt0: [{ address: '100.64.0.5', internal: false, family: 'IPv4' }],
    other: [{ address: '100.100.1.1', internal: false, family: 'IPv4' }],
  };
  assert.deepEqual(interfaceAddresses(ifs, 'mt0'), ['10.1.0.10', '2001:db8::10']);
});
