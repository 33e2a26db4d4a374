import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIP, canonicalPrefix, containsExitRoutes, isTailscaleIP, parseAddrPort, parseIP } from '../../../../main/engine/netmap/ip.js';

test('canonical IP text as Go netip writes it', () => {
  const cases: [string, string][] = [
    ['100.64.0.1', '100.64.0.1'],
    ['FD7A:115C:A1E0:0:0:0:0:1', 'fd7a:115c:a1e0::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal zero runs
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:1:2:3:4:0:5', '2001:db8:1:2:3:4:0:5'], // a single zero group is not compressed
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
  ];
  for (const [inp, want] of cases) assert.equal(canonicalIP(inp), want, inp);
  for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'g::1', '1.2.3.4 ']) {
    assert.equal(parseIP(bad), undefined, bad);
  }
});

test('prefixes, ip:port, Tailscale ranges, exit routes', () => {
  assert.equal(canonicalPrefix('0::/0'), '::/0');
  assert.equal(canonicalPrefix('10.1.0.0/24'), '10.1.0.0/24');
  for (const bad of ['10.1.0.0', '10.1.0.0/33', '::/129', '10.0.0.0/08', '10.0.0.0/']) assert.equal(canonicalPrefix(bad), undefined, bad);
  assert.deepEqual(parseAddrPort('[2001:db8::1]:41641')?.port, 41641);
  assert.equal(parseAddrPort('1.2.3.4:65535')?.port, 65535);
  for (const bad of ['1.2.3.4', '1.2.3.4:65536', '2001:db8::1:41641', '[1.2.3.4]:1', 'host:1']) assert.equal(parseAddrPort(bad), undefined, bad);
  assert.equal(isTailscaleIP(parseIP('100.64.0.1')!), true);
  assert.equal(isTailscaleIP(parseIP('100.127.255.255')!), true);
  assert.equal(isTailscaleIP(parseIP('100.128.0.1')!), false);
  assert.equal(isTailscaleIP(parseIP('100.115.92.5')!), false, 'ChromeOS VM range');
  assert.equal(isTailscaleIP(parseIP('fd7a:115c:a1e0:ab::1')!), true);
  assert.equal(isTailscaleIP(parseIP('fd7a:115c:a1e1::1')!), false);
  assert.equal(containsExitRoutes(['0.0.0.0/0', '::/0']), true);
  assert.equal(containsExitRoutes(['0.0.0.0/0']), false);
  assert.equal(containsExitRoutes(null), false);
});
